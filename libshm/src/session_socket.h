// SPDX-License-Identifier: MIT
// The session's unix socket, shared by everything that talks to a helper
// (the client library, shmrun, shmstat) and by shmd itself: address parsing,
// listen, connect, one request/reply call, and starting a helper on a
// listening socket. An address is "@name" (abstract namespace) or a path,
// optionally followed by "#key" (the session key, never part of the socket
// address).
#ifndef LIBSHM_SRC_SESSION_SOCKET_H_
#define LIBSHM_SRC_SESSION_SOCKET_H_

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "protocol.h"

namespace libshm::internal {

// Fills `sa` for `address` (up to any '#'); returns its length, 0 if invalid.
socklen_t SessionAddress(const char* address, struct sockaddr_un* sa);
// A listening SOCK_SEQPACKET socket (CLOEXEC). Returns the fd or -errno.
int ListenSession(const char* address);
// A connected socket (CLOEXEC; O_NONBLOCK if `nonblocking`: connect then
// fails with -EAGAIN instead of waiting for a helper whose backlog is full).
// Returns the fd or -errno.
int ConnectSession(const char* address, bool nonblocking = false);
// Sends `req` (with `send_fd` unless -1) and waits for its reply. *recv_fd
// gets a passed fd, or -1 (closed if recv_fd is NULL). Returns reply->status
// or -errno for a transport failure.
int CallHelper(int sock, const Request& req, Reply* reply, int send_fd, int* recv_fd);
// SpawnHelper's result when the helper started but could not serve: it
// printed why itself, so the caller adds no line.
constexpr int kHelperSaidWhy = -ECHILD;

// SpawnHelper's result when the program exited without serving or saying
// why: not shmd (LIBSHM_HELPER names another program), or it crashed.
constexpr int kHelperSilent = -EPROTO;

// Starts the helper binary `path` serving `listen_fd` (posix_spawn, never a
// bare fork; in its own session; detached by a double fork so it is never
// the caller's child) with environment `envp`, and waits until it serves.
// The helper reports on fd 4: 'R' once it serves, 'E' after printing why it
// cannot. Returns 0, kHelperSaidWhy, kHelperSilent, or -errno.
int SpawnHelper(const char* path, int listen_fd, char* const* envp);

// Why SpawnHelper failed, for a message: strerror, or what kHelperSilent means.
const char* HelperStartError(int rc);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_SESSION_SOCKET_H_
