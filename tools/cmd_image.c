// SPDX-License-Identifier: MIT
/* placeholder until the image API lands */
#include <stdio.h>
#include "cli.h"
const char sign_usage[] = "Usage: softsgx sign (being written)\n";
const char measure_usage[] = "Usage: softsgx measure (being written)\n";
int cmd_sign(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cmd_measure(int argc, char **argv) { (void)argc; (void)argv; return 1; }
