// Package testpki makes a throw-away certificate authority for the TLS
// tests of several packages: one CA, a node certificate for 127.0.0.1
// (server and client use, as a node serves clients and dials peers) and a
// client certificate, all ECDSA P-256, valid for a day.
package testpki
