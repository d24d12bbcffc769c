/*
 * peer-cred: the uid, gid and pid of the process at the other end of a connected unix socket,
 * for vfio-sla's service (src/server/peer-cred.ts builds and loads this file).
 *
 * Node has no API for it: SO_PEERCRED is a getsockopt() on the socket's fd (socket(7), unix(7):
 * "SO_PEERCRED ... returns the credentials of the peer process connected to this socket ...
 * those that were in effect at the time of the call to connect(2)"). A Node-API module, so one
 * build works with every Node version of that Node-API level (Node-API 8: Node >= 12.22).
 *
 * peerCred(fd) -> { pid, uid, gid }; throws an Error whose code is the errno's name.
 */
#define _GNU_SOURCE /* struct ucred, <sys/socket.h> (unix(7)) */
#define NAPI_VERSION 8
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, int err) {
  const char *code = err == EBADF ? "EBADF" : err == ENOTSOCK ? "ENOTSOCK" : err == ENOPROTOOPT ? "ENOPROTOOPT" : "EIO";
  napi_throw_error(env, code, strerror(err));
  return NULL;
}

static napi_value set_number(napi_env env, napi_value obj, const char *name, double value) {
  napi_value v;
  if (napi_create_double(env, value, &v) != napi_ok || napi_set_named_property(env, obj, name, v) != napi_ok) return NULL;
  return obj;
}

static napi_value peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "peerCred(fd): fd must be a number");
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return throw_errno(env, errno);
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  if (set_number(env, obj, "pid", cred.pid) == NULL || set_number(env, obj, "uid", cred.uid) == NULL ||
      set_number(env, obj, "gid", cred.gid) == NULL) return NULL;
  return obj;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "peerCred", NAPI_AUTO_LENGTH, peer_cred, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "peerCred", fn) != napi_ok) return NULL;
  return exports;
}
