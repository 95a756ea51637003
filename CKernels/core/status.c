/* Error details for the public API, the shared argument checks, and the warning for an unusable environment variable. */
#include "internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static _Thread_local const char *last_argument = "";
static _Thread_local char last_message[256];

const char *ck_last_error_argument(void) { return last_argument; }
const char *ck_last_error_message(void) { return last_message; }

const char *ck_status_name(ck_status status) {
    switch (status) {
    case CK_OK: return "CK_OK";
    case CK_ERR_NULL_POINTER: return "CK_ERR_NULL_POINTER";
    case CK_ERR_INVALID_SHAPE: return "CK_ERR_INVALID_SHAPE";
    case CK_ERR_INVALID_STRIDE: return "CK_ERR_INVALID_STRIDE";
    case CK_ERR_INVALID_VALUE: return "CK_ERR_INVALID_VALUE";
    case CK_ERR_SIZE_OVERFLOW: return "CK_ERR_SIZE_OVERFLOW";
    case CK_ERR_UNSUPPORTED: return "CK_ERR_UNSUPPORTED";
    case CK_ERR_OUT_OF_MEMORY: return "CK_ERR_OUT_OF_MEMORY";
    }
    return "CK_ERR_UNKNOWN";
}

ck_status ck_fail(ck_status status, const char *argument, const char *format, ...) {
    last_argument = argument ? argument : "";
    va_list args;
    va_start(args, format);
    vsnprintf(last_message, sizeof last_message, format, args);
    va_end(args);
    return status;
}

ck_status ck_check_matrix(const void *ptr, const char *name, size_t rows, size_t cols, size_t ld,
                          size_t elem_size) {
    if (rows == 0 || cols == 0) return CK_OK;
    if (ptr == NULL) return ck_fail(CK_ERR_NULL_POINTER, name, "%s is NULL but holds %zu x %zu elements", name, rows, cols);
    if (ld < cols)
        return ck_fail(CK_ERR_INVALID_STRIDE, name, "%s: row stride %zu is smaller than the row length %zu", name, ld,
                       cols);
    /* extent = ((rows - 1) * ld + cols) * elem_size must stay below PTRDIFF_MAX */
    size_t extent;
    if (__builtin_mul_overflow(rows - 1, ld, &extent) || __builtin_add_overflow(extent, cols, &extent) ||
        __builtin_mul_overflow(extent, elem_size, &extent) || extent > (size_t)PTRDIFF_MAX)
        return ck_fail(CK_ERR_SIZE_OVERFLOW, name, "%s: %zu rows with stride %zu overflow the address space", name,
                       rows, ld);
    return CK_OK;
}

void ck_warn_env(const char *name, const char *value, const char *expected) {
    fprintf(stderr, "MoEKit: ignoring %s=%s (expected %s)\n", name, value, expected);
}
