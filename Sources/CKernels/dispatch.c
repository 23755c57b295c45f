/*
 * dispatch.c: picks the vector variant once, at run time.
 *
 * The binary is built for the x86-64 baseline and carries AVX2 and AVX-512
 * variants compiled with per-function target attributes, so it runs on any
 * x86-64 CPU.  The choice is the best the CPU supports, unless the
 * environment variable SWIFTNET_ISA (scalar, avx2, avx512) or
 * ck_isa_select() asks for a lower one; tests use that to run every variant
 * on one machine.  A request the CPU cannot honour is ignored, never obeyed
 * into an illegal instruction.
 */
#include "ckernels.h"
#include "variants.h"

#include <stdlib.h>
#include <string.h>

static int cpu_supports(ck_isa isa) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    switch (isa) {
    case CK_ISA_SCALAR: return 1;
    case CK_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CK_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("fma");
    }
    return 0;
#else
    return isa == CK_ISA_SCALAR;
#endif
}

ck_isa ck_isa_best_supported(void) {
    if (cpu_supports(CK_ISA_AVX512)) return CK_ISA_AVX512;
    if (cpu_supports(CK_ISA_AVX2)) return CK_ISA_AVX2;
    return CK_ISA_SCALAR;
}

const char *ck_isa_name(ck_isa isa) {
    switch (isa) {
    case CK_ISA_AVX512: return "avx512";
    case CK_ISA_AVX2: return "avx2";
    case CK_ISA_SCALAR: default: return "scalar";
    }
}

static const ck_variant_table *table_for(ck_isa isa) {
#if defined(__x86_64__)
    if (isa == CK_ISA_AVX512) return &ck_variant_avx512;
    if (isa == CK_ISA_AVX2) return &ck_variant_avx2;
#endif
    return &ck_variant_scalar;
}

static _Atomic int current_isa = -1;

static ck_isa choose_from_environment(void) {
    ck_isa best = ck_isa_best_supported();
    const char *wanted = getenv("SWIFTNET_ISA");
    if (wanted == NULL) return best;
    for (int isa = CK_ISA_SCALAR; isa <= CK_ISA_AVX512; isa++)
        if (strcmp(wanted, ck_isa_name((ck_isa)isa)) == 0 && cpu_supports((ck_isa)isa))
            return (ck_isa)isa;
    return best;
}

ck_isa ck_isa_current(void) {
    int isa = current_isa;
    if (isa < 0) {
        isa = (int)choose_from_environment();
        current_isa = isa;
    }
    return (ck_isa)isa;
}

int ck_isa_select(ck_isa isa) {
    if (isa < CK_ISA_SCALAR || isa > CK_ISA_AVX512 || !cpu_supports(isa)) return -1;
    current_isa = (int)isa;
    return 0;
}

const ck_variant_table *ck_active_variant(void) { return table_for(ck_isa_current()); }

size_t ck_any_variant_sgemm_scratch_floats(int m, int n, int k) {
    size_t most = 0;
    for (int isa = CK_ISA_SCALAR; isa <= CK_ISA_AVX512; isa++) {
        if (!cpu_supports((ck_isa)isa)) continue;
        size_t floats = table_for((ck_isa)isa)->sgemm_scratch_floats(m, n, k);
        if (floats > most) most = floats;
    }
    return most;
}

size_t ck_any_variant_packed_panel_floats(int M, int K) {
    size_t most = 0;
    for (int isa = CK_ISA_SCALAR; isa <= CK_ISA_AVX512; isa++) {
        if (!cpu_supports((ck_isa)isa)) continue;
        size_t floats = table_for((ck_isa)isa)->packed_panel_floats(M, K);
        if (floats > most) most = floats;
    }
    return most;
}

size_t ck_any_variant_direct_conv_floats(int C, int H, int W, int OC, int KH, int KW, int pad) {
    size_t most = 0;
    for (int isa = CK_ISA_SCALAR; isa <= CK_ISA_AVX512; isa++) {
        if (!cpu_supports((ck_isa)isa)) continue;
        size_t floats = table_for((ck_isa)isa)->direct_conv_floats(C, H, W, OC, KH, KW, pad);
        if (floats > most) most = floats;
    }
    return most;
}
