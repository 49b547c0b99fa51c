// Package testnet holds network helpers shared by the tests of several
// packages.
package testnet
