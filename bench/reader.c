/* Tight open+read+close loop over one file, so that the reader's own cost stays small next to tmpfs.
 * usage: reader PATH COUNT  -> prints "ops_per_sec p50_us bytes" on one line. Exits 2 on any error. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: reader PATH COUNT\n"); return 2; }
  const char *path = argv[1];
  long count = atol(argv[2]);
  if (count <= 0) { fprintf(stderr, "bad COUNT\n"); return 2; }
  double *lat = malloc(sizeof(double) * count);
  char buf[65536];
  ssize_t bytes = -1;
  double t0 = now_us();
  for (long i = 0; i < count; i++) {
    double s = now_us();
    int fd = open(path, O_RDONLY);
    if (fd < 0) { perror("open"); return 2; }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) { perror("read"); return 2; }
    close(fd);
    bytes = n;
    lat[i] = now_us() - s;
  }
  double total = now_us() - t0;
  qsort(lat, count, sizeof(double), cmp);
  printf("%.0f %.1f %zd\n", count / (total / 1e6), lat[count / 2], bytes);
  return 0;
}
