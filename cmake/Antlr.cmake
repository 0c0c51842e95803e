# SPDX-License-Identifier: Apache-2.0
# varpulis_antlr_generate(<out_var> GRAMMAR <file> NAMESPACE <ns>): generate the C++ lexer and
# parser from a combined grammar at build time with the `antlr4` tool (Debian package antlr4).
find_program(ANTLR4_TOOL NAMES antlr4 REQUIRED)

function(varpulis_antlr_generate out_var)
  cmake_parse_arguments(ARG "" "GRAMMAR;NAMESPACE;OUTPUT_DIR" "" ${ARGN})
  get_filename_component(name ${ARG_GRAMMAR} NAME_WE)
  set(outputs
    ${ARG_OUTPUT_DIR}/${name}Lexer.cpp ${ARG_OUTPUT_DIR}/${name}Lexer.h
    ${ARG_OUTPUT_DIR}/${name}Parser.cpp ${ARG_OUTPUT_DIR}/${name}Parser.h)
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${ARG_OUTPUT_DIR}
    COMMAND ${ANTLR4_TOOL} -Dlanguage=Cpp -no-listener -no-visitor -package ${ARG_NAMESPACE}
            -Xexact-output-dir -o ${ARG_OUTPUT_DIR} ${ARG_GRAMMAR}
    DEPENDS ${ARG_GRAMMAR}
    COMMENT "Generating the ${name} parser with ANTLR"
    VERBATIM)
  set(${out_var} ${outputs} PARENT_SCOPE)

  # clang rejects misc/InterpreterDataReader.h of the 4.9 runtime (a deleted default constructor),
  # which the umbrella header pulls in although nothing here uses it. The generated files include
  # "antlr4-runtime.h" with quotes, so a copy of the umbrella without that line, placed beside
  # them, is found first.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    file(READ ${ANTLR4_INCLUDE_DIR}/antlr4-runtime.h umbrella)
    string(REPLACE "#include \"misc/InterpreterDataReader.h\"" "" umbrella "${umbrella}")
    file(WRITE ${ARG_OUTPUT_DIR}/antlr4-runtime.h "${umbrella}")
  endif()
endfunction()
