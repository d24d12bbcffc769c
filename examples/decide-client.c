/*
 * decide-client.c — ask a running `vfio-sla serve` whether to stop the vCPUs now.
 *
 * A VMM calls vfio_sla_decide() at the point where it would otherwise start the switchover,
 * with what it knows this instant (device states and MIG_DATA_SIZE, guest RAM left, dirty rate,
 * pre-copy bandwidth), and stops the vCPUs only on "commit". Plain POSIX sockets, no JSON
 * library: the request is written with snprintf and only the reply's "action" (or the error's
 * "code") is read, with a small scanner that respects JSON strings and nesting.
 *
 * How a VMM would call it, right before vm_stop() (QEMU: migration_completion() →
 * vm_stop_force_state(RUN_STATE_FINISH_MIGRATE)):
 *
 *     struct vfio_sla_device dev = {
 *         .id = vbasedev->name, .model = "mlx5-cx7",
 *         .state = "PRE_COPY_P2P", .flags = 7,            // VFIO_MIGRATION_STOP_COPY|P2P|PRE_COPY
 *         .stop_copy_bytes = stop_copy_size,             // VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
 *         .size_known = (ret == 0),                      // a failed query must block the switchover
 *     };
 *     struct vfio_sla_snapshot snap = {
 *         .devices = &dev, .n_devices = 1,
 *         .ram_remaining_bytes = ram_bytes_remaining(),
 *         .ram_dirty_bytes_per_s = dirty_pages_rate * qemu_target_page_size(),
 *         .precopy_bandwidth_bytes_per_s = mbps * 1e6 / 8,
 *         .elapsed_ms = now_ms - start_ms,
 *         .deadline_ms = downtime_limit_ms, .alpha = 0.01, .budget_ms = -1,
 *     };
 *     char action[16], error[128];
 *     if (vfio_sla_decide("/run/vfio-sla.sock", &snap, 1000, action, sizeof action, error, sizeof error) == 0
 *         && strcmp(action, "commit") == 0) {
 *         vm_stop_force_state(RUN_STATE_FINISH_MIGRATE);  // the unabortable part starts here
 *     } else {
 *         // "wait": keep pre-copying and ask again next iteration; "throttle": raise
 *         // auto-converge/dirty-limit; "abort": cancel the migration; "defer": the server's
 *         // model is not calibrated for these devices — switch over by your own rule
 *         // (downtime-limit) and do not cancel; an error: never stop blind — keep
 *         // pre-copying (QEMU's 100 GiB VFIO_MIG_STOP_COPY_SIZE rule, in spirit).
 *     }
 *
 * Build and run:
 *     cc -std=c99 -Wall -Wextra -O2 -o decide-client examples/decide-client.c
 *     ./decide-client /run/vfio-sla.sock 500 67108864 268435456 1073741824 10000 \
 *         0000:3b:00.1 mlx5-cx7 PRE_COPY_P2P 7 104857600
 * It prints the action and exits 0 commit, 3 wait, 4 throttle, 5 abort, 6 defer, 1 error, 2 usage.
 * With these numbers (64 MiB of RAM left, 1 GiB/s, a 100 MiB device state, deadline 500 ms) a
 * server whose calibrated model predicts a median blackout near 280 ms and a 99 % bound near
 * 410 ms answers commit (exit 0); with 300 as the deadline it answers abort (exit 5): even with
 * no RAM left the bound would not fit. A server with only the priors answers defer (exit 6):
 * their uncalibrated bound (~18 s) never fits, and an uncalibrated abort is not passed on.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* One VFIO device as the VMM sees it at the decision. */
struct vfio_sla_device {
    const char *id;             /* e.g. the PCI address */
    const char *model;          /* device model key of the fitted model, e.g. "mlx5-cx7" */
    const char *state;          /* VFIO migration state name, e.g. "PRE_COPY_P2P" */
    unsigned flags;             /* VFIO_MIGRATION_* bits */
    unsigned long long stop_copy_bytes;
    int size_known;             /* 0: the MIG_DATA_SIZE query failed (sent as null) */
};

/* The VM at the decision, and the SLO. */
struct vfio_sla_snapshot {
    const struct vfio_sla_device *devices;
    size_t n_devices;
    double ram_remaining_bytes;
    double ram_dirty_bytes_per_s;
    double precopy_bandwidth_bytes_per_s;
    double elapsed_ms;
    double deadline_ms;
    double alpha;               /* <= 0: the server's default */
    double budget_ms;           /* < 0: no budget */
};

#define REQUEST_MAX (64 * 1024)
#define REPLY_MAX (256 * 1024)

/* Appends printf output to buf at *len; -1 when it does not fit. */
static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        return -1;
    *len += (size_t)n;
    return 0;
}

/* Appends s as a JSON string (quotes, escapes, control characters as \u00XX). */
static int append_json_string(char *buf, size_t cap, size_t *len, const char *s)
{
    if (append(buf, cap, len, "\"") < 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int r;
        if (*p == '"' || *p == '\\')
            r = append(buf, cap, len, "\\%c", *p);
        else if (*p < 0x20)
            r = append(buf, cap, len, "\\u%04x", *p);
        else
            r = append(buf, cap, len, "%c", *p);
        if (r < 0)
            return -1;
    }
    return append(buf, cap, len, "\"");
}

static int build_request(char *buf, size_t cap, const struct vfio_sla_snapshot *s)
{
    size_t len = 0;
    if (append(buf, cap, &len, "{\"id\":1,\"method\":\"decide\",\"params\":{\"snapshot\":{\"devices\":[") < 0)
        return -1;
    for (size_t i = 0; i < s->n_devices; i++) {
        const struct vfio_sla_device *d = &s->devices[i];
        if (append(buf, cap, &len, "%s{\"id\":", i ? "," : "") < 0 ||
            append_json_string(buf, cap, &len, d->id) < 0 ||
            append(buf, cap, &len, ",\"model\":") < 0 ||
            append_json_string(buf, cap, &len, d->model) < 0 ||
            append(buf, cap, &len, ",\"state\":") < 0 ||
            append_json_string(buf, cap, &len, d->state) < 0 ||
            append(buf, cap, &len, ",\"flags\":%u,\"stopCopyBytes\":", d->flags) < 0)
            return -1;
        if (d->size_known ? append(buf, cap, &len, "%llu}", d->stop_copy_bytes) < 0
                          : append(buf, cap, &len, "null}") < 0)
            return -1;
    }
    if (append(buf, cap, &len,
               "],\"ramRemainingBytes\":%.0f,\"ramDirtyBytesPerS\":%.17g,"
               "\"precopyBandwidthBytesPerS\":%.17g,\"elapsedMs\":%.17g},\"slo\":{\"deadlineMs\":%.17g",
               s->ram_remaining_bytes, s->ram_dirty_bytes_per_s, s->precopy_bandwidth_bytes_per_s,
               s->elapsed_ms, s->deadline_ms) < 0)
        return -1;
    if (s->alpha > 0 && append(buf, cap, &len, ",\"alpha\":%.17g", s->alpha) < 0)
        return -1;
    if (s->budget_ms >= 0 && append(buf, cap, &len, ",\"budgetMs\":%.17g", s->budget_ms) < 0)
        return -1;
    if (append(buf, cap, &len, "}}}\n") < 0)
        return -1;
    return (int)len;
}

/*
 * Finds `"key":` among the members of the object that starts at json[from] (after whitespace),
 * skipping the insides of strings and of nested values; returns the index just after the ':'
 * or -1. Enough JSON to read one field of a reply without being fooled by the same text
 * inside a string (device ids are echoed in the breakdown) or a nested object.
 */
static long find_key(const char *json, long from, const char *key)
{
    int depth = 0;
    size_t klen = strlen(key);
    for (long i = from; json[i]; i++) {
        char c = json[i];
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth <= 0)
                return -1; /* the object ended without the key */
        } else if (c == '"') {
            long start = i + 1;
            for (i = start; json[i] && json[i] != '"'; i++)
                if (json[i] == '\\' && json[i + 1])
                    i++;
            if (!json[i])
                return -1;
            long j = i + 1;
            while (json[j] == ' ' || json[j] == '\t' || json[j] == '\r' || json[j] == '\n')
                j++;
            if (depth == 1 && json[j] == ':' && (size_t)(i - start) == klen &&
                strncmp(json + start, key, klen) == 0)
                return j + 1;
        }
    }
    return -1;
}

/* Copies the JSON string value at json[at..] (after optional whitespace) into out; -1 if none. */
static int string_value(const char *json, long at, char *out, size_t cap)
{
    while (json[at] == ' ' || json[at] == '\t' || json[at] == '\r' || json[at] == '\n')
        at++;
    if (json[at] != '"')
        return -1;
    size_t n = 0;
    for (long i = at + 1; json[i] != '"'; i++) {
        if (!json[i] || json[i] == '\\' || n + 1 >= cap)
            return -1; /* actions and codes are plain ASCII words */
        out[n++] = json[i];
    }
    out[n] = '\0';
    return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one line (up to '\n', not included) into buf; -1 on error, timeout or overflow. */
static int read_line(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        if (len + 1 >= cap)
            return -1;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        char *nl = memchr(buf + len, '\n', (size_t)n);
        len += (size_t)n;
        if (nl) {
            *nl = '\0';
            return 0;
        }
    }
}

/*
 * Asks the server at socket_path. On success (0) `action` holds commit|wait|throttle|abort.
 * On failure (-1) `error` says why: an error code from the server (E_BAD_PARAMS...) or a
 * local problem. Waits at most timeout_ms for each send and receive.
 */
int vfio_sla_decide(const char *socket_path, const struct vfio_sla_snapshot *snap, int timeout_ms,
                    char *action, size_t action_cap, char *error, size_t error_cap)
{
    int fd = -1, rc = -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    char *request = malloc(REQUEST_MAX), *reply = malloc(REPLY_MAX);

    if (!request || !reply) {
        snprintf(error, error_cap, "out of memory");
        goto out;
    }
    int len = build_request(request, REQUEST_MAX, snap);
    if (len < 0) {
        snprintf(error, error_cap, "request too large");
        goto out;
    }
    if (strlen(socket_path) >= sizeof addr.sun_path) {
        snprintf(error, error_cap, "socket path too long");
        goto out;
    }
    memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
        connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        snprintf(error, error_cap, "connect %s: %s", socket_path, strerror(errno));
        goto out;
    }
    errno = 0;
    if (write_all(fd, request, (size_t)len) < 0 || read_line(fd, reply, REPLY_MAX) < 0) {
        snprintf(error, error_cap, "no reply from %s: %s", socket_path,
                 errno ? strerror(errno) : "connection closed or reply too long");
        goto out;
    }
    long result = find_key(reply, 0, "result");
    if (result >= 0) {
        long at = find_key(reply, result, "action");
        if (at >= 0 && string_value(reply, at, action, action_cap) == 0)
            rc = 0;
        else
            snprintf(error, error_cap, "reply without an action");
        goto out;
    }
    long err = find_key(reply, 0, "error");
    long code = err >= 0 ? find_key(reply, err, "code") : -1;
    if (code < 0 || string_value(reply, code, error, error_cap) < 0)
        snprintf(error, error_cap, "unreadable reply");
out:
    if (fd >= 0)
        close(fd);
    free(request);
    free(reply);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 12) {
        fprintf(stderr,
                "usage: %s <socket> <deadline_ms> <ram_remaining_bytes> <ram_dirty_bytes_per_s>\n"
                "          <precopy_bandwidth_bytes_per_s> <elapsed_ms> <device_id> <device_model>\n"
                "          <state> <flags> <stop_copy_bytes|-1 if the size query failed>\n",
                argv[0]);
        return 2;
    }
    long long size = strtoll(argv[11], NULL, 10);
    struct vfio_sla_device dev = {
        .id = argv[7], .model = argv[8], .state = argv[9],
        .flags = (unsigned)strtoul(argv[10], NULL, 10),
        .stop_copy_bytes = size < 0 ? 0 : (unsigned long long)size,
        .size_known = size >= 0,
    };
    struct vfio_sla_snapshot snap = {
        .devices = &dev, .n_devices = 1,
        .deadline_ms = strtod(argv[2], NULL),
        .ram_remaining_bytes = strtod(argv[3], NULL),
        .ram_dirty_bytes_per_s = strtod(argv[4], NULL),
        .precopy_bandwidth_bytes_per_s = strtod(argv[5], NULL),
        .elapsed_ms = strtod(argv[6], NULL),
        .alpha = 0, .budget_ms = -1,
    };
    char action[16], error[256];
    if (vfio_sla_decide(argv[1], &snap, 1000, action, sizeof action, error, sizeof error) < 0) {
        fprintf(stderr, "vfio-sla: %s\n", error);
        return 1;
    }
    printf("%s\n", action);
    if (strcmp(action, "commit") == 0)
        return 0;
    if (strcmp(action, "wait") == 0)
        return 3;
    if (strcmp(action, "throttle") == 0)
        return 4;
    if (strcmp(action, "defer") == 0)
        return 6;
    return 5; /* abort, or an action this client does not know: never stop the vCPUs */
}
