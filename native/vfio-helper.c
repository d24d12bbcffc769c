/*
 * vfio-helper: drives VFIO migration devices through the kernel's uAPI for vfio-sla and answers
 * JSON-line requests, one object per line, on stdin/stdout or on a serial port (`--port PATH`,
 * e.g. a virtio-serial port in a test guest). Part of vfio-sla (MIT); the protocol is described
 * in src/vfio/vfio-helper-client.ts.
 *
 * Every uAPI fact used here is from Linux include/uapi/linux/vfio.h (v6.12):
 * - group/container API: VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU, VFIO_GROUP_GET_DEVICE_FD;
 * - migration v2: VFIO_DEVICE_FEATURE with VFIO_DEVICE_FEATURE_MIGRATION (flags),
 *   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE (GET/SET, SET may return a data_fd),
 *   VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, and VFIO_MIG_GET_PRECOPY_INFO on the data fd;
 * - VFIO_DEVICE_RESET, VFIO_DEVICE_GET_REGION_INFO (for the mtty UART registers in BAR0).
 * Build: cc -static -O2 -D__user= -I<kernel uapi include> -o vfio-helper vfio-helper.c
 * (the uapi header still carries `__user`, include/uapi/linux/vfio.h struct vfio_iommu_type1_dma_unmap).
 *
 * Requests: {"id":N,"op":"...",...}; replies: {"id":N,"ok":true,...} or
 * {"id":N,"ok":false,"errno":"EINVAL","errnoNum":22,"message":"...",...}. Every reply carries
 * "ns", the CLOCK_MONOTONIC duration of the request's kernel call(s), and "t0Ns", its start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define PROTOCOL_VERSION 1
#define MAX_DEVICES 16
#define MAX_READ (1 << 20)

struct device {
	int used;
	int devfd;
	int groupfd;
	int datafd; /* the migration data fd the last SET returned; -1 if none */
	unsigned long long flags;
	unsigned long long bar0_offset;
	unsigned long long bar0_size;
	char name[128];
};

static struct device devices[MAX_DEVICES];
static int container = -1;
static FILE *out;

static const struct { int num; const char *name; } errnames[] = {
	{ EPERM, "EPERM" },   { ENOENT, "ENOENT" }, { EIO, "EIO" },       { EBADF, "EBADF" },
	{ ENOMEM, "ENOMEM" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },   { ENODEV, "ENODEV" },
	{ EINVAL, "EINVAL" }, { ENOTTY, "ENOTTY" }, { ESPIPE, "ESPIPE" }, { ENOMSG, "ENOMSG" },
	{ ETIMEDOUT, "ETIMEDOUT" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { EEXIST, "EEXIST" }, { EAGAIN, "EAGAIN" },
	{ E2BIG, "E2BIG" }, { ENOSPC, "ENOSPC" }, { EACCES, "EACCES" },
};

static const char *errname(int e)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].num == e)
			return errnames[i].name;
	return "EUNKNOWN";
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- request parsing: flat objects whose string values hold no quotes or escapes ---- */

static const char *find_key(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(line, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	return p;
}

static int get_num(const char *line, const char *key, long long *v)
{
	const char *p = find_key(line, key);
	char *end;
	if (!p)
		return 0;
	errno = 0;
	*v = strtoll(p, &end, 10);
	return end != p && errno == 0;
}

/* Copies the string value of key into buf; 0 when absent, not a string, too long or escaped. */
static int get_str(const char *line, const char *key, char *buf, size_t size)
{
	const char *p = find_key(line, key);
	if (!p || *p != '"')
		return 0;
	p++;
	const char *end = strchr(p, '"');
	if (!end || (size_t)(end - p) >= size || memchr(p, '\\', end - p))
		return 0;
	memcpy(buf, p, end - p);
	buf[end - p] = 0;
	return 1;
}

/* ---- replies ---- */

static long long req_id;
static long long t0, t1;

static void timed_start(void) { t0 = now_ns(); }
static void timed_end(void) { t1 = now_ns(); }

static void reply_ok(const char *fmt, ...)
{
	fprintf(out, "{\"id\":%lld,\"ok\":true,\"t0Ns\":%lld,\"ns\":%lld", req_id, t0, t1 - t0);
	if (fmt && *fmt) {
		va_list ap;
		fputc(',', out);
		va_start(ap, fmt);
		vfprintf(out, fmt, ap);
		va_end(ap);
	}
	fputs("}\n", out);
	fflush(out);
}

/* An error reply; `extra` (may be empty) adds fields such as the state after the failure. */
static void reply_err(int e, const char *extra, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *c = msg; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
			*c = '\'';
	fprintf(out, "{\"id\":%lld,\"ok\":false,\"errno\":\"%s\",\"errnoNum\":%d,\"message\":\"%s\",\"t0Ns\":%lld,\"ns\":%lld%s%s}\n",
		req_id, errname(e), e, msg, t0, t1 - t0, extra && *extra ? "," : "", extra ? extra : "");
	fflush(out);
}

/* ---- sysfs ---- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int e = n < 0 ? errno : 0;
	close(fd);
	return n < 0 ? -e : 0;
}

/* The IOMMU group number of an mdev UUID or a PCI address, from its sysfs iommu_group link. */
static int group_of(const char *name)
{
	char path[256], link[256];
	const char *buses[] = { "mdev", "pci" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/bus/%s/devices/%s/iommu_group", buses[i], name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = 0;
			const char *slash = strrchr(link, '/');
			return atoi(slash ? slash + 1 : link);
		}
	}
	return -ENOENT;
}

/* ---- device operations ---- */

static struct device *handle(const char *line)
{
	long long h;
	if (!get_num(line, "h", &h) || h < 0 || h >= MAX_DEVICES || !devices[h].used)
		return NULL;
	return &devices[h];
}

static int mig_feature(int devfd, uint32_t flags, void *payload, size_t payload_size)
{
	char buf[sizeof(struct vfio_device_feature) + 64] __attribute__((aligned(8)));
	struct vfio_device_feature *f = (void *)buf;
	memset(buf, 0, sizeof(buf));
	f->argsz = sizeof(*f) + payload_size;
	f->flags = flags;
	memcpy(f->data, payload, payload_size);
	int r = ioctl(devfd, VFIO_DEVICE_FEATURE, f);
	if (r < 0)
		return -errno;
	memcpy(payload, f->data, payload_size);
	return 0;
}

static int get_state(struct device *d, uint32_t *state)
{
	struct vfio_device_feature_mig_state s = { 0 };
	int r = mig_feature(d->devfd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s));
	if (r == 0)
		*state = s.device_state;
	return r;
}

static void close_device(struct device *d)
{
	if (d->datafd >= 0)
		close(d->datafd);
	if (d->devfd >= 0)
		close(d->devfd);
	if (d->groupfd >= 0)
		close(d->groupfd);
	memset(d, 0, sizeof(*d));
}

static void op_open(const char *line)
{
	char name[128], path[64];
	if (!get_str(line, "dev", name, sizeof(name)))
		return reply_err(EINVAL, "", "open: missing \"dev\" (an mdev UUID or a PCI address)");
	int slot = -1;
	for (int i = 0; i < MAX_DEVICES && slot < 0; i++)
		if (!devices[i].used)
			slot = i;
	if (slot < 0)
		return reply_err(ENOSPC, "", "open: more than %d devices open", MAX_DEVICES);
	struct device *d = &devices[slot];
	memset(d, 0, sizeof(*d));
	d->devfd = d->groupfd = d->datafd = -1;
	timed_start();
	int group = group_of(name);
	if (group < 0) {
		timed_end();
		return reply_err(-group, "", "open %s: no /sys/bus/{mdev,pci}/devices/%s/iommu_group", name, name);
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	d->groupfd = open(path, O_RDWR);
	if (d->groupfd < 0) {
		int e = errno;
		timed_end();
		d->groupfd = -1;
		return reply_err(e, "", "open %s: %s: %s", name, path, e == EBUSY ? "the device is in use" : strerror(e));
	}
	if (container < 0 && (container = open("/dev/vfio/vfio", O_RDWR)) < 0) {
		int e = errno;
		timed_end();
		container = -1;
		close_device(d);
		return reply_err(e, "", "open /dev/vfio/vfio: %s", strerror(e));
	}
	if (ioctl(d->groupfd, VFIO_GROUP_SET_CONTAINER, &container) < 0) {
		int e = errno;
		timed_end();
		close_device(d);
		return reply_err(e, "", "VFIO_GROUP_SET_CONTAINER %s: %s", path, strerror(e));
	}
	/* "by removing all the groups from a container, the container is deprivileged and returns
	 * to an unset state" (drivers/vfio/container.c, vfio_ioctl_set_iommu()): the first group in
	 * sets the IOMMU again. */
	int attached = 0;
	for (int i = 0; i < MAX_DEVICES; i++)
		attached += devices[i].used;
	if (!attached && ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		int e = errno;
		timed_end();
		close_device(d);
		return reply_err(e, "", "VFIO_SET_IOMMU type1v2: %s", strerror(e));
	}
	d->devfd = ioctl(d->groupfd, VFIO_GROUP_GET_DEVICE_FD, name);
	if (d->devfd < 0) {
		int e = errno;
		timed_end();
		d->devfd = -1;
		close_device(d);
		return reply_err(e, "", "VFIO_GROUP_GET_DEVICE_FD %s: %s", name, e == EBUSY ? "the device is in use" : strerror(e));
	}
	struct vfio_device_feature_migration mig = { 0 };
	int r = mig_feature(d->devfd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof(mig));
	timed_end();
	if (r < 0) {
		close_device(d);
		return reply_err(-r, "", "%s has no migration support: VFIO_DEVICE_FEATURE_MIGRATION: %s", name, strerror(-r));
	}
	struct vfio_region_info reg = { .argsz = sizeof(reg), .index = VFIO_PCI_BAR0_REGION_INDEX };
	if (ioctl(d->devfd, VFIO_DEVICE_GET_REGION_INFO, &reg) == 0) {
		d->bar0_offset = reg.offset;
		d->bar0_size = reg.size;
	}
	d->used = 1;
	d->flags = mig.flags;
	snprintf(d->name, sizeof(d->name), "%s", name);
	reply_ok("\"h\":%d,\"flags\":%llu,\"group\":%d,\"bar0Size\":%llu", slot, d->flags, group, d->bar0_size);
}

/* States that have a data fd (include/uapi/linux/vfio.h, enum vfio_device_mig_state). */
static int has_data(uint32_t s)
{
	return s == VFIO_DEVICE_STATE_PRE_COPY || s == VFIO_DEVICE_STATE_PRE_COPY_P2P ||
	       s == VFIO_DEVICE_STATE_STOP_COPY || s == VFIO_DEVICE_STATE_RESUMING;
}

static void op_set(const char *line)
{
	struct device *d = handle(line);
	long long target;
	if (!d)
		return reply_err(EBADF, "", "set: no open device \"h\"");
	if (!get_num(line, "state", &target) || target < 0 || target > 7)
		return reply_err(EINVAL, "", "set: \"state\" must be 0..7");
	uint32_t before = 0, after = 0;
	int rb = get_state(d, &before);
	struct vfio_device_feature_mig_state s = { .device_state = (uint32_t)target, .data_fd = -1 };
	timed_start();
	int r = mig_feature(d->devfd, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s));
	timed_end();
	int ra = get_state(d, &after);
	char extra[128];
	snprintf(extra, sizeof(extra), "\"before\":%d,\"state\":%d", rb == 0 ? (int)before : -1, ra == 0 ? (int)after : -1);
	if (r < 0)
		return reply_err(-r, extra, "%s: SET %lld: %s", d->name, target, strerror(-r));
	/* The uAPI: a SET that returns no data_fd leaves an earlier one valid where the stream goes on
	 * (PRE_COPY_P2P -> STOP_COPY may continue on the PRE_COPY fd); a state without data ends it. */
	int newfd = s.data_fd >= 0;
	if (newfd) {
		if (d->datafd >= 0)
			close(d->datafd);
		d->datafd = s.data_fd;
	} else if (!has_data(after) && d->datafd >= 0) {
		close(d->datafd);
		d->datafd = -1;
	}
	reply_ok("%s,\"dataFd\":%s", extra, newfd ? "true" : "false");
}

static void op_get(const char *line)
{
	struct device *d = handle(line);
	uint32_t st = 0;
	if (!d)
		return reply_err(EBADF, "", "get: no open device \"h\"");
	timed_start();
	int r = get_state(d, &st);
	timed_end();
	if (r < 0)
		return reply_err(-r, "", "%s: GET state: %s", d->name, strerror(-r));
	reply_ok("\"state\":%u", st);
}

static void op_size(const char *line)
{
	struct device *d = handle(line);
	struct vfio_device_feature_mig_data_size sz = { 0 };
	if (!d)
		return reply_err(EBADF, "", "size: no open device \"h\"");
	timed_start();
	int r = mig_feature(d->devfd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &sz, sizeof(sz));
	timed_end();
	if (r < 0)
		return reply_err(-r, "", "%s: MIG_DATA_SIZE: %s", d->name, strerror(-r));
	reply_ok("\"bytes\":%llu", (unsigned long long)sz.stop_copy_length);
}

static void op_precopy(const char *line)
{
	struct device *d = handle(line);
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	if (!d)
		return reply_err(EBADF, "", "precopy: no open device \"h\"");
	if (d->datafd < 0)
		return reply_err(EINVAL, "", "%s: PRECOPY_INFO: no migration data fd (valid only in PRE_COPY states)", d->name);
	timed_start();
	int r = ioctl(d->datafd, VFIO_MIG_GET_PRECOPY_INFO, &info);
	int e = errno;
	timed_end();
	if (r < 0)
		return reply_err(e, "", "%s: PRECOPY_INFO: %s", d->name, strerror(e));
	reply_ok("\"initialBytes\":%llu,\"dirtyBytes\":%llu", (unsigned long long)info.initial_bytes,
		 (unsigned long long)info.dirty_bytes);
}

static void put_hex(const unsigned char *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		fputc(digits[b[i] >> 4], out);
		fputc(digits[b[i] & 15], out);
	}
}

/* An ok reply carrying bytes as "hex"; frees buf. */
static void reply_bytes(unsigned char *buf, ssize_t n)
{
	fprintf(out, "{\"id\":%lld,\"ok\":true,\"t0Ns\":%lld,\"ns\":%lld,\"bytes\":%zd,\"hex\":\"", req_id, t0, t1 - t0, n);
	put_hex(buf, n);
	fputs("\"}\n", out);
	fflush(out);
	free(buf);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes the "hex" value into a malloc'd buffer; returns its length or -1. */
static ssize_t get_hex(const char *line, unsigned char **buf)
{
	const char *p = find_key(line, "hex");
	if (!p || *p != '"')
		return -1;
	p++;
	const char *end = strchr(p, '"');
	if (!end || (end - p) % 2)
		return -1;
	size_t n = (end - p) / 2;
	*buf = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(*buf);
			return -1;
		}
		(*buf)[i] = (unsigned char)(hi << 4 | lo);
	}
	return (ssize_t)n;
}

/* One read() of up to "max" bytes from the data fd: 0 bytes is end of stream (or, in PRE_COPY,
 * nothing more for now). */
static void op_read(const char *line)
{
	struct device *d = handle(line);
	long long max;
	if (!d)
		return reply_err(EBADF, "", "read: no open device \"h\"");
	if (!get_num(line, "max", &max) || max <= 0 || max > MAX_READ)
		return reply_err(EINVAL, "", "read: \"max\" must be 1..%d", MAX_READ);
	if (d->datafd < 0)
		return reply_err(EBADF, "", "%s: read: no migration data fd", d->name);
	unsigned char *buf = malloc(max);
	timed_start();
	ssize_t n = read(d->datafd, buf, max);
	int e = errno;
	timed_end();
	if (n < 0) {
		free(buf);
		return reply_err(e, "", "%s: read data fd: %s", d->name, strerror(e));
	}
	reply_bytes(buf, n);
}

static void op_write(const char *line)
{
	struct device *d = handle(line);
	unsigned char *buf;
	if (!d)
		return reply_err(EBADF, "", "write: no open device \"h\"");
	ssize_t len = get_hex(line, &buf);
	if (len < 0)
		return reply_err(EINVAL, "", "write: \"hex\" must be an even-length hex string");
	if (d->datafd < 0) {
		free(buf);
		return reply_err(EBADF, "", "%s: write: no migration data fd", d->name);
	}
	timed_start();
	ssize_t n = write(d->datafd, buf, len);
	int e = errno;
	timed_end();
	free(buf);
	if (n < 0)
		return reply_err(e, "", "%s: write data fd: %s", d->name, strerror(e));
	reply_ok("\"bytes\":%zd", n);
}

/* Byte access to BAR0 through the device fd (mtty's UART registers: RBR/THR at 0, LSR at 5). */
static void op_bar0(const char *line, int is_write)
{
	struct device *d = handle(line);
	long long offset, count = 1;
	unsigned char *buf = NULL;
	if (!d)
		return reply_err(EBADF, "", "bar0: no open device \"h\"");
	if (!get_num(line, "offset", &offset) || offset < 0 || (unsigned long long)offset >= d->bar0_size)
		return reply_err(EINVAL, "", "bar0: \"offset\" must be inside BAR0 (%llu bytes)", d->bar0_size);
	ssize_t len = is_write ? get_hex(line, &buf) : (get_num(line, "count", &count) ? count : 1);
	if (len <= 0 || len > 4096) {
		free(buf);
		return reply_err(EINVAL, "", "bar0: 1..4096 bytes");
	}
	if (!is_write)
		buf = calloc(len, 1);
	/* One byte per access, as a driver does with a UART's registers. */
	timed_start();
	for (ssize_t i = 0; i < len; i++) {
		ssize_t n = is_write ? pwrite(d->devfd, buf + i, 1, d->bar0_offset + offset)
				     : pread(d->devfd, buf + i, 1, d->bar0_offset + offset);
		if (n != 1) {
			int e = n < 0 ? errno : EIO;
			timed_end();
			free(buf);
			return reply_err(e, "", "%s: BAR0 %s at %lld: %s", d->name, is_write ? "write" : "read", offset, strerror(e));
		}
	}
	timed_end();
	reply_bytes(buf, len);
}

static void op_reset(const char *line)
{
	struct device *d = handle(line);
	if (!d)
		return reply_err(EBADF, "", "reset: no open device \"h\"");
	timed_start();
	int r = ioctl(d->devfd, VFIO_DEVICE_RESET);
	int e = errno;
	timed_end();
	if (r < 0)
		return reply_err(e, "", "%s: VFIO_DEVICE_RESET: %s", d->name, strerror(e));
	if (d->datafd >= 0) {
		close(d->datafd);
		d->datafd = -1;
	}
	uint32_t st = 0;
	get_state(d, &st);
	reply_ok("\"state\":%u", st);
}

static void op_close(const char *line)
{
	struct device *d = handle(line);
	if (!d)
		return reply_err(EBADF, "", "close: no open device \"h\"");
	timed_start();
	close_device(d);
	timed_end();
	reply_ok("");
}

/* Creates an mdev: writes the UUID to /sys/class/mdev_bus/<parent>/mdev_supported_types/<type>/create. */
static void op_create(const char *line)
{
	char parent[64], type[64], uuid[64], path[256];
	if (!get_str(line, "parent", parent, sizeof(parent)) || !get_str(line, "type", type, sizeof(type)) ||
	    !get_str(line, "uuid", uuid, sizeof(uuid)))
		return reply_err(EINVAL, "", "create: needs \"parent\", \"type\" and \"uuid\"");
	snprintf(path, sizeof(path), "/sys/class/mdev_bus/%s/mdev_supported_types/%s/create", parent, type);
	timed_start();
	int r = write_file(path, uuid);
	timed_end();
	if (r < 0)
		return reply_err(-r, "", "write %s: %s", path, strerror(-r));
	reply_ok("\"uuid\":\"%s\"", uuid);
}

static void op_remove(const char *line)
{
	char uuid[64], path[256];
	if (!get_str(line, "uuid", uuid, sizeof(uuid)))
		return reply_err(EINVAL, "", "remove: needs \"uuid\"");
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove", uuid);
	timed_start();
	int r = write_file(path, "1");
	timed_end();
	if (r < 0)
		return reply_err(-r, "", "write %s: %s", path, strerror(-r));
	reply_ok("");
}

static void op_hello(void)
{
	struct utsname u;
	uname(&u);
	timed_start();
	timed_end();
	reply_ok("\"protocol\":%d,\"kernel\":\"%s\",\"pid\":%d", PROTOCOL_VERSION, u.release, (int)getpid());
}

static void dispatch(const char *line)
{
	char op[32];
	t0 = t1 = now_ns();
	if (!get_num(line, "id", &req_id))
		req_id = -1;
	if (!get_str(line, "op", op, sizeof(op)))
		return reply_err(EINVAL, "", "request without \"op\"");
	if (!strcmp(op, "hello")) op_hello();
	else if (!strcmp(op, "open")) op_open(line);
	else if (!strcmp(op, "close")) op_close(line);
	else if (!strcmp(op, "set")) op_set(line);
	else if (!strcmp(op, "get")) op_get(line);
	else if (!strcmp(op, "size")) op_size(line);
	else if (!strcmp(op, "precopy")) op_precopy(line);
	else if (!strcmp(op, "read")) op_read(line);
	else if (!strcmp(op, "write")) op_write(line);
	else if (!strcmp(op, "bar0read")) op_bar0(line, 0);
	else if (!strcmp(op, "bar0write")) op_bar0(line, 1);
	else if (!strcmp(op, "reset")) op_reset(line);
	else if (!strcmp(op, "create")) op_create(line);
	else if (!strcmp(op, "remove")) op_remove(line);
	else reply_err(EINVAL, "", "unknown op \"%s\"", op);
}

int main(int argc, char **argv)
{
	FILE *in = stdin;
	int port_mode = 0;
	out = stdout;
	if (argc == 3 && !strcmp(argv[1], "--port")) {
		int fd = open(argv[2], O_RDWR);
		if (fd < 0) {
			fprintf(stderr, "vfio-helper: open %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		in = fdopen(fd, "r");
		port_mode = 1;
		out = fdopen(dup(fd), "w");
	} else if (argc != 1) {
		fprintf(stderr, "usage: vfio-helper [--port PATH]\n");
		return 2;
	}
	fprintf(stderr, "vfio-helper: ready (protocol %d)\n", PROTOCOL_VERSION);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	for (;;) {
		n = getline(&line, &cap, in);
		if (n < 0) {
			/* A virtio-serial port reads as end-of-file while no host end is connected
			 * (drivers/char/virtio_console.c, port_fops_read()): wait for one. */
			if (!port_mode)
				break;
			clearerr(in);
			usleep(20000);
			continue;
		}
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = 0;
		if (line[0])
			dispatch(line);
	}
	for (int i = 0; i < MAX_DEVICES; i++)
		if (devices[i].used)
			close_device(&devices[i]);
	return 0;
}
