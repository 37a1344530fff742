// SPDX-License-Identifier: MIT
/* placeholder: being written */
#include "internal.h"
