// dlopen loader for PKCS#11 modules. Swift owns the lifetime (one owner per module path); this file only
// does the dlopen/dlsym dance, which needs C's function pointer casts.
#include "CPKCS.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int cpkcs_module_open(const char *path, cpkcs_module *out, char *error, size_t error_len) {
    memset(out, 0, sizeof(*out));
    // RTLD_LOCAL keeps each module's symbols to itself; two vendors' modules often export the same names.
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *reason = dlerror();
        snprintf(error, error_len, "%s", reason ? reason : "dlopen failed");
        return -1;
    }
    CK_C_GetFunctionList get_list = (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
    if (get_list == NULL) {
        snprintf(error, error_len, "%s has no C_GetFunctionList: not a PKCS#11 module", path);
        dlclose(handle);
        return -1;
    }
    CK_FUNCTION_LIST_PTR functions = NULL;
    CK_RV rv = get_list(&functions);
    if (rv != CKR_OK || functions == NULL) {
        snprintf(error, error_len, "C_GetFunctionList returned 0x%lx", (unsigned long)rv);
        dlclose(handle);
        return -1;
    }
    out->handle = handle;
    out->functions = functions;
    return 0;
}

void cpkcs_module_close(cpkcs_module *module) {
    if (module->handle != NULL) {
        dlclose(module->handle);
    }
    module->handle = NULL;
    module->functions = NULL;
}

CK_RV cpkcs_initialize(CK_FUNCTION_LIST_PTR functions) {
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    return functions->C_Initialize(&args);
}

const CK_FLAGS cpkcs_CKF_TOKEN_PRESENT = CKF_TOKEN_PRESENT;
const CK_FLAGS cpkcs_CKF_REMOVABLE_DEVICE = CKF_REMOVABLE_DEVICE;
const CK_FLAGS cpkcs_CKF_HW_SLOT = CKF_HW_SLOT;
const CK_FLAGS cpkcs_CKF_LOGIN_REQUIRED = CKF_LOGIN_REQUIRED;
const CK_FLAGS cpkcs_CKF_USER_PIN_INITIALIZED = CKF_USER_PIN_INITIALIZED;
const CK_FLAGS cpkcs_CKF_PROTECTED_AUTHENTICATION_PATH = CKF_PROTECTED_AUTHENTICATION_PATH;
const CK_FLAGS cpkcs_CKF_TOKEN_INITIALIZED = CKF_TOKEN_INITIALIZED;
const CK_FLAGS cpkcs_CKF_USER_PIN_COUNT_LOW = CKF_USER_PIN_COUNT_LOW;
const CK_FLAGS cpkcs_CKF_USER_PIN_FINAL_TRY = CKF_USER_PIN_FINAL_TRY;
const CK_FLAGS cpkcs_CKF_USER_PIN_LOCKED = CKF_USER_PIN_LOCKED;
const CK_FLAGS cpkcs_CKF_USER_PIN_TO_BE_CHANGED = CKF_USER_PIN_TO_BE_CHANGED;
const CK_FLAGS cpkcs_CKF_RW_SESSION = CKF_RW_SESSION;
const CK_FLAGS cpkcs_CKF_SERIAL_SESSION = CKF_SERIAL_SESSION;
const CK_ULONG cpkcs_CK_UNAVAILABLE_INFORMATION = CK_UNAVAILABLE_INFORMATION;
