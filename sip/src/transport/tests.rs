//! Transport tests: loopback sockets only, port 0.
