// SPDX-License-Identifier: MIT
/* placeholder: being written */
#include "sgx.h"
