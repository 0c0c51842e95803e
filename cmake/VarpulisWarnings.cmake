# SPDX-License-Identifier: Apache-2.0
# Warning flags for the project's own targets only (never for generated or third-party code).
add_library(varpulis_warnings INTERFACE)
target_compile_options(varpulis_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wnon-virtual-dtor
  $<$<BOOL:${VARPULIS_WERROR}>:-Werror>)
