# Writes the bytes of INPUT as a C++ array named NAME into OUTPUT (cmake -P embed.cmake).
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}" "// Generated from ${INPUT} by lsp/src/embed.cmake.\n#include <cstddef>\n"
     "extern const unsigned char ${NAME}[] = {\n${bytes}\n};\n"
     "extern const size_t ${NAME}Size = ${size};\n")
