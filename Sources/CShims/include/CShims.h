#ifndef WALVAULT_CSHIMS_H
#define WALVAULT_CSHIMS_H
/* Typed entry points for C APIs that are macros or variadic, which Swift cannot call. */
#include <zlib.h>

/* deflateInit2/inflateInit2 are macros; windowBits 31 selects the gzip wrapper. */
int wv_deflate_init_gzip(z_stream *stream, int level);
int wv_inflate_init_gzip(z_stream *stream);


/* Swift sees `flock` as the struct's initialiser; this names the function. */
int wv_flock(int fd, int operation);

/* prctl is variadic. Makes the process non-dumpable (no core file, no ptrace by the same
   user) and sets the core size limit to 0: the process holds a passphrase and keys. */
int wv_disable_core_dumps(void);

/// glibc malloc tuned for streaming: a fixed 1 MiB mmap threshold and at most two arenas.
void wv_tune_malloc_for_streaming(void);

/* syncfs is a GNU extension the Glibc module does not declare. Flushes one file system, not every
   mounted one as sync() does: restore syncs its destinations once instead of each file. */
int wv_syncfs(int fd);

/* sync_file_range(SYNC_FILE_RANGE_WRITE), also GNU only: starts write-back of a range without
   waiting for it, so the disk writes while restore still decompresses, and the final syncfs
   has little left to wait for. */
int wv_start_writeback(int fd, long long offset, long long length);

/* fallocate(2), GNU only: gives a file its blocks before restore writes it out of order. Unlike
   posix_fallocate it never falls back to writing zeros, so an unsupporting file system costs
   nothing (EOPNOTSUPP). */
int wv_allocate(int fd, long long length);

/* O_DIRECT is visible only under _GNU_SOURCE, and its value differs between architectures.
   Opens an existing file for writing past the page cache, never following a symlink. */
int wv_open_direct_write(const char *path);

/* posix_spawn_file_actions_addchdir_np (glibc 2.29) is hidden behind _GNU_SOURCE. The actions
   are opaque here so that this header needs no <spawn.h>. */
int wv_spawn_actions_add_chdir(void *actions, const char *path);

#endif
