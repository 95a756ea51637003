/* Umbrella header of MoEKit's C kernels. */
#ifndef CKERNELS_H
#define CKERNELS_H
#include "ck_runtime.h"
#include "ck_formats.h"
#include "ck_probe.h"
#include "ck_gemm.h"
#endif
