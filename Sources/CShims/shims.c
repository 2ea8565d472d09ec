#include "CShims.h"
#include <sys/file.h>

int wv_flock(int fd, int operation) {
    return flock(fd, operation);
}

int wv_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

int wv_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}
