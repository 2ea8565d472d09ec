#define _GNU_SOURCE
#include "CShims.h"
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int wv_flock(int fd, int operation) {
    return flock(fd, operation);
}

int wv_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

int wv_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}

#include <malloc.h>

void wv_tune_malloc_for_streaming(void) {
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_ARENA_MAX, 2);
}

int wv_disable_core_dumps(void) {
    struct rlimit none = {0, 0};
    int a = setrlimit(RLIMIT_CORE, &none);
    int b = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    return (a == 0 && b == 0) ? 0 : -1;
}

#include <unistd.h>

int wv_syncfs(int fd) {
    return syncfs(fd);
}

#include <fcntl.h>

int wv_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

int wv_open_direct_write(const char *path) {
    return open(path, O_WRONLY | O_DIRECT | O_NOFOLLOW | O_CLOEXEC);
}

int wv_allocate(int fd, long long length) {
    return fallocate(fd, 0, 0, length);
}

#include <spawn.h>

int wv_spawn_actions_add_chdir(void *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np((posix_spawn_file_actions_t *)actions, path);
}
