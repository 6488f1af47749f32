// prctl(2) is variadic in C and cannot be called from Swift directly.
#include <sys/prctl.h>
#include "CPKCS.h"

int cprocess_set_not_dumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }
