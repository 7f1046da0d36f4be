/*
 * Hold a whole process to AVX2 by what CPUID tells it, for peers that have no setting of their
 * own (ONNX Runtime's MLAS picks its kernels from CPUID alone), on an AVX-512 host.
 *
 *   cc -O2 -shared -fPIC -o target/cpuid_cap.so benches/peers/cpuid_cap.c
 *   CPUID_CAP=avx2 LD_PRELOAD=target/cpuid_cap.so python3 ...
 *
 * CPUID_CAP: `avx2` (default) hides AVX-512 (every subset), AVX-VNNI, AMX and AVX10;
 * `avx2-vnni` keeps AVX-VNNI. XGETBV is left alone: every library seen here asks CPUID for
 * AVX-512 before it asks the OS for the ZMM state, and so takes its AVX2 kernels.
 *
 * How: Linux's CPUID faulting (arch_prctl ARCH_SET_CPUID 0; /proc/cpuinfo shows `cpuid_fault`)
 * makes every `cpuid` instruction of the thread raise SIGSEGV. The handler runs the real
 * instruction with faulting lifted for that instant, clears the hidden feature bits in the
 * saved registers and steps over the instruction. The setting is per thread and inherited by
 * threads created later, so it is set in a constructor, before the program starts any. What
 * glibc's loader asked before the constructor ran (its string functions' variants) stays as
 * the CPU is; GLIBC_TUNABLES can hold those too. A program that sets its own SIGSEGV handler
 * (perf, Python's faulthandler) gets it called for every other fault: `sigaction` and `signal`
 * for SIGSEGV are taken here and kept aside instead of replacing this handler.
 *
 * A measurement aid for benches/peers, never linked into semclust.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static int keep_avx_vnni;
/* What the program asked for SIGSEGV; SIG_DFL until it asks. */
static struct sigaction program_action;

static long set_faulting(int on) {
    return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1);
}

static void mask(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c,
                 uint32_t *d) {
    if (leaf == 7 && sub == 0) {
        /* AVX512F, DQ, IFMA, PF, ER, CD, BW, VL */
        *b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) |
                (1u << 30) | (1u << 31));
        /* AVX512_VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ */
        *c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        /* AVX512_4VNNIW, 4FMAPS, VP2INTERSECT, AMX-BF16, FP16, AMX-TILE, AMX-INT8 */
        *d &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) |
                (1u << 25));
    } else if (leaf == 7 && sub == 1) {
        /* AVX-VNNI (kept at avx2-vnni), AVX512_BF16, AVX-IFMA, AMX-FP16 */
        *a &= ~((keep_avx_vnni ? 0u : (1u << 4)) | (1u << 5) | (1u << 21) | (1u << 23));
        /* AVX-VNNI-INT8, AVX-NE-CONVERT, AMX-COMPLEX, AVX10 */
        *d &= ~((1u << 4) | (1u << 5) | (1u << 8) | (1u << 19));
    } else if (leaf == 0x1d || leaf == 0x1e || leaf == 0x24) {
        /* AMX tile and AVX10 description leaves */
        *a = *b = *c = *d = 0;
    }
}

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    static sigaction_fn next;
    if (!next) {
        next = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    }
    return next(sig, act, old);
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (sig != SIGSEGV) {
        return real_sigaction(sig, act, old);
    }
    if (old) {
        *old = program_action;
    }
    if (act) {
        program_action = *act;
    }
    return 0;
}

sighandler_t signal(int sig, sighandler_t handler) {
    if (sig != SIGSEGV) {
        struct sigaction act, old;
        memset(&act, 0, sizeof act);
        act.sa_handler = handler;
        act.sa_flags = SA_RESTART;
        sigemptyset(&act.sa_mask);
        return real_sigaction(sig, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
    }
    sighandler_t old = program_action.sa_handler;
    memset(&program_action, 0, sizeof program_action);
    program_action.sa_handler = handler;
    return old;
}

static void on_segv(int sig, siginfo_t *info, void *uc_) {
    ucontext_t *uc = uc_;
    greg_t *r = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)r[REG_RIP];
    if (ip[0] != 0x0f || ip[1] != 0xa2) {
        /* A real fault: the program's handler, or the default action once this returns and
         * the instruction faults again. */
        if (program_action.sa_flags & SA_SIGINFO) {
            program_action.sa_sigaction(sig, info, uc_);
        } else if (program_action.sa_handler != SIG_DFL && program_action.sa_handler != SIG_IGN) {
            program_action.sa_handler(sig);
        } else {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            real_sigaction(SIGSEGV, &dfl, NULL);
        }
        return;
    }
    uint32_t leaf = (uint32_t)r[REG_RAX], sub = (uint32_t)r[REG_RCX];
    uint32_t a, b, c, d;
    set_faulting(0);
    __cpuid_count(leaf, sub, a, b, c, d);
    set_faulting(1);
    mask(leaf, sub, &a, &b, &c, &d);
    r[REG_RAX] = a;
    r[REG_RBX] = b;
    r[REG_RCX] = c;
    r[REG_RDX] = d;
    r[REG_RIP] += 2;
}

__attribute__((constructor)) static void cpuid_cap_init(void) {
    const char *cap = getenv("CPUID_CAP");
    if (cap && strcmp(cap, "avx2-vnni") == 0) {
        keep_avx_vnni = 1;
    } else if (cap && *cap && strcmp(cap, "avx2") != 0) {
        fprintf(stderr, "cpuid_cap: CPUID_CAP=%s: use avx2 or avx2-vnni\n", cap);
        exit(2);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    program_action.sa_handler = SIG_DFL;
    if (real_sigaction(SIGSEGV, &sa, NULL) != 0 || set_faulting(1) != 0) {
        fprintf(stderr, "cpuid_cap: this CPU or kernel has no CPUID faulting (cpuid_fault)\n");
        exit(2);
    }
}
