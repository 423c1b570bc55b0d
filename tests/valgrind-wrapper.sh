#!/bin/sh
# Runs a test program under valgrind's memcheck: any memory error or leak
# fails it (exit 99). Used by contrib/test.sh's valgrind stage for the C
# unit tests (scripts are not wrapped: their shell's leaks are not ours).
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect "$@"
