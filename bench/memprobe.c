/*
 * memprobe.c: an LD_PRELOAD probe of where a process's heap bytes are, used
 * for the idle-stream breakdown in docs/PERFORMANCE.md ("Events"). Not part
 * of the CMake build:
 *   gcc -O2 -fno-builtin -shared -fPIC -o memprobe.so bench/memprobe.c \
 *       -ldl -lpthread
 *   LD_PRELOAD=./memprobe.so binkd ...      (or through bench/stream_mem.py)
 *   kill -USR1 PID   zero the memset counters
 *   kill -USR2 PID   write the report to $MEMPROBE_OUT (/tmp/memprobe.out)
 *
 * The report lists the live heap blocks (malloc, calloc, realloc) grouped
 * by the address that allocated them (library + offset; resolve with
 * addr2line or objdump) and by size, for groups of at least $MEMPROBE_MIN
 * (500) blocks; for blocks of 8 KiB and more, how many of their whole pages
 * are resident (mincore), and for blocks of $MEMPROBE_POOL bytes (16384)
 * which page indexes are. Then every memset of 2 KiB or more made through
 * the PLT (libmicrohttpd's are), by caller. Slow and crude (one locked
 * open-addressing table of 4 Mi entries): for measurements only.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

#define SLOTS (1u << 22)
#define TOMB ((void *)1)
struct block {
  void *p;
  size_t n;
  void *caller;
};
struct group {
  void *caller;
  size_t n, count, resident, pages;
};
struct mset {
  void *caller;
  size_t kib;
  unsigned long count;
};

static struct block *table;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mset_lock = PTHREAD_MUTEX_INITIALIZER;
static void *(*real_memset)(void *, int, size_t);
static struct mset msets[256];
static int nmsets;
static volatile sig_atomic_t want_dump, want_reset;
static size_t pool_size = 16384;

static size_t slot_of(void *p) {
  return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull >> 42) &
         (SLOTS - 1);
}

static void track(void *p, size_t n, void *caller) {
  if (!p)
    return;
  pthread_mutex_lock(&lock);
  if (!table)
    table = mmap(NULL, sizeof *table * SLOTS, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  size_t i = slot_of(p);
  while (table[i].p && table[i].p != TOMB)
    i = (i + 1) & (SLOTS - 1);
  table[i] = (struct block){p, n, caller};
  pthread_mutex_unlock(&lock);
}

static void untrack(void *p) {
  if (!p || !table)
    return;
  pthread_mutex_lock(&lock);
  for (size_t i = slot_of(p); table[i].p; i = (i + 1) & (SLOTS - 1))
    if (table[i].p == p) {
      table[i].p = TOMB;
      break;
    }
  pthread_mutex_unlock(&lock);
}

static void where(FILE *f, void *a) {
  Dl_info di;
  if (dladdr(a, &di) && di.dli_fname)
    fprintf(f, "%s+0x%lx", di.dli_fname,
            (unsigned long)((uintptr_t)a - (uintptr_t)di.dli_fbase));
  else
    fprintf(f, "%p", a);
}

static void dump(void) {
  static struct group g[4096];
  static size_t page_hist[64];
  int ng = 0;
  size_t min = getenv("MEMPROBE_MIN") ? (size_t)atol(getenv("MEMPROBE_MIN"))
                                      : 500;
  const char *out = getenv("MEMPROBE_OUT");
  FILE *f = fopen(out ? out : "/tmp/memprobe.out", "w");
  if (!f)
    return;
  long ps = sysconf(_SC_PAGESIZE);
  memset(page_hist, 0, sizeof page_hist);
  pthread_mutex_lock(&lock);
  for (size_t i = 0; table && i < SLOTS; i++) {
    struct block *b = &table[i];
    if (!b->p || b->p == TOMB)
      continue;
    size_t res = 0, pages = 0;
    if (b->n >= 8192) { /* whole pages inside the block */
      uintptr_t s = ((uintptr_t)b->p + ps - 1) & ~(uintptr_t)(ps - 1);
      uintptr_t e = ((uintptr_t)b->p + b->n) & ~(uintptr_t)(ps - 1);
      unsigned char v[64];
      size_t np = e > s ? (e - s) / ps : 0;
      if (np > 64)
        np = 64;
      if (np && mincore((void *)s, np * ps, v) == 0)
        for (size_t k = 0; k < np; k++, pages++)
          if (v[k] & 1) {
            res++;
            if (b->n == pool_size)
              page_hist[k]++;
          }
    }
    int j = 0;
    while (j < ng && !(g[j].caller == b->caller && g[j].n == b->n))
      j++;
    if (j == ng) {
      if (ng == 4096)
        continue;
      g[ng++] = (struct group){b->caller, b->n, 0, 0, 0};
    }
    g[j].count++;
    g[j].resident += res;
    g[j].pages += pages;
  }
  pthread_mutex_unlock(&lock);
  fprintf(f, "live blocks (groups of %zu or more)\n", min);
  for (int j = 0; j < ng; j++) {
    if (g[j].count < min)
      continue;
    fprintf(f, "%8zu x %7zu B = %8zu KiB  resident pages %zu/%zu  ",
            g[j].count, g[j].n, g[j].count * g[j].n / 1024, g[j].resident,
            g[j].pages);
    where(f, g[j].caller);
    fputc('\n', f);
  }
  fprintf(f, "blocks of %zu B: resident count by whole-page index\n",
          pool_size);
  for (int k = 0; k < 64 && (size_t)k * ps < pool_size; k++)
    fprintf(f, "  page %d: %zu\n", k, page_hist[k]);
  fprintf(f, "memset >= 2 KiB since the last reset\n");
  for (int i = 0; i < nmsets; i++) {
    fprintf(f, "%8lu x %5zu KiB  ", msets[i].count, msets[i].kib);
    where(f, msets[i].caller);
    fputc('\n', f);
  }
  fclose(f);
}

static void on_signal(int sig) {
  if (sig == SIGUSR2)
    want_dump = 1;
  else
    want_reset = 1;
}

static void *watcher(void *arg) {
  (void)arg;
  for (;;) {
    usleep(100000);
    if (want_reset) {
      want_reset = 0;
      for (int i = 0; i < nmsets; i++)
        msets[i].count = 0;
    }
    if (want_dump) {
      want_dump = 0;
      dump();
    }
  }
  return NULL;
}

__attribute__((constructor)) static void memprobe_init(void) {
  if (getenv("MEMPROBE_POOL"))
    pool_size = (size_t)atol(getenv("MEMPROBE_POOL"));
  real_memset = (void *(*)(void *, int, size_t))dlsym(RTLD_NEXT, "memset");
  signal(SIGUSR1, on_signal);
  signal(SIGUSR2, on_signal);
  pthread_t t;
  pthread_create(&t, NULL, watcher, NULL);
  pthread_detach(t);
}

void *malloc(size_t n) {
  void *p = __libc_malloc(n);
  track(p, n, __builtin_return_address(0));
  return p;
}

void *calloc(size_t a, size_t b) {
  void *p = __libc_calloc(a, b);
  track(p, a * b, __builtin_return_address(0));
  return p;
}

void *realloc(void *o, size_t n) {
  untrack(o);
  void *p = __libc_realloc(o, n);
  track(p, n, __builtin_return_address(0));
  return p;
}

void free(void *p) {
  untrack(p);
  __libc_free(p);
}

void *memset(void *p, int c, size_t n) {
  if (!real_memset) { /* before the constructor: byte by byte */
    for (size_t i = 0; i < n; i++)
      ((volatile unsigned char *)p)[i] = (unsigned char)c;
    return p;
  }
  if (n >= 2048) {
    void *caller = __builtin_return_address(0);
    pthread_mutex_lock(&mset_lock);
    int i = 0;
    while (i < nmsets &&
           !(msets[i].caller == caller && msets[i].kib == n / 1024))
      i++;
    if (i == nmsets && nmsets < 256)
      msets[nmsets++] = (struct mset){caller, n / 1024, 0};
    if (i < 256)
      msets[i].count++;
    pthread_mutex_unlock(&mset_lock);
  }
  return real_memset(p, c, n);
}
