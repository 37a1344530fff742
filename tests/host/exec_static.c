// SPDX-License-Identifier: MIT
/*
 * Linked with -static (and -static-pie) for test_exec_cli.sh: softsgx exec
 * must refuse it before it runs, so this line must never show.
 */
#include <stdio.h>

int main(void)
{
	puts("exec_static ran");
	return 0;
}
