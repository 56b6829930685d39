# Writes a C++ source holding every migration as a raw string literal.
# Inputs: DIR (folder of .sql files), FILES (list of names NNNN_name.sql), FUNC (the
# accessor's name), OUT.
set(body "// Generated from sql/migrations by cmake/EmbedMigrations.cmake. Do not edit.\n")
string(APPEND body "#include \"migrations_data.hpp\"\n\nnamespace sagaflow::pg {\n\n")
string(APPEND body "const std::vector<Migration>& ${FUNC}() {\n")
string(APPEND body "    static const std::vector<Migration> kAll{\n")
foreach(f IN LISTS FILES)
    if(NOT f MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)\\.sql$")
        message(FATAL_ERROR "migration file name must be NNNN_name.sql: ${f}")
    endif()
    math(EXPR version "${CMAKE_MATCH_1}")
    set(name "${CMAKE_MATCH_2}")
    file(READ "${DIR}/${f}" sql)
    string(APPEND body "        {${version}, \"${name}\", R\"sagaflow_sql(${sql})sagaflow_sql\"},\n")
endforeach()
string(APPEND body "    };\n    return kAll;\n}\n\n}  // namespace sagaflow::pg\n")
file(WRITE "${OUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
