package ring

import "math/bits"

// This file is a streaming MD5 (RFC 1321) over a string, used by Shard for ids
// longer than stackIDLen so that they too hash without allocating:
// crypto/md5 offers no allocation-free way to hash a string of any length
// (md5.New escapes, []byte(s) copies to the heap). Only the first word of the
// digest is produced. FuzzShard checks it against crypto/md5.

// md5T is the table T[i] = floor(abs(sin(i+1)) * 2^32) of RFC 1321.
var md5T = [64]uint32{
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
}

// md5State is the chaining state A, B, C, D.
type md5State [4]uint32

// block processes one 64-byte block. Each round is unrolled by four so that
// the rotation counts are constants.
func (st *md5State) block(p *[64]byte) {
	var x [16]uint32
	for i := range x {
		j := 4 * i
		x[i] = uint32(p[j]) | uint32(p[j+1])<<8 | uint32(p[j+2])<<16 | uint32(p[j+3])<<24
	}
	a, b, c, d := st[0], st[1], st[2], st[3]
	rot := bits.RotateLeft32
	for i := 0; i < 16; i += 4 {
		a = b + rot(a+((b&c)|(^b&d))+md5T[i]+x[i], 7)
		d = a + rot(d+((a&b)|(^a&c))+md5T[i+1]+x[i+1], 12)
		c = d + rot(c+((d&a)|(^d&b))+md5T[i+2]+x[i+2], 17)
		b = c + rot(b+((c&d)|(^c&a))+md5T[i+3]+x[i+3], 22)
	}
	for i := 16; i < 32; i += 4 {
		a = b + rot(a+((b&d)|(c&^d))+md5T[i]+x[(5*i+1)&15], 5)
		d = a + rot(d+((a&c)|(b&^c))+md5T[i+1]+x[(5*i+6)&15], 9)
		c = d + rot(c+((d&b)|(a&^b))+md5T[i+2]+x[(5*i+11)&15], 14)
		b = c + rot(b+((c&a)|(d&^a))+md5T[i+3]+x[(5*i+16)&15], 20)
	}
	for i := 32; i < 48; i += 4 {
		a = b + rot(a+(b^c^d)+md5T[i]+x[(3*i+5)&15], 4)
		d = a + rot(d+(a^b^c)+md5T[i+1]+x[(3*i+8)&15], 11)
		c = d + rot(c+(d^a^b)+md5T[i+2]+x[(3*i+11)&15], 16)
		b = c + rot(b+(c^d^a)+md5T[i+3]+x[(3*i+14)&15], 23)
	}
	for i := 48; i < 64; i += 4 {
		a = b + rot(a+(c^(b|^d))+md5T[i]+x[(7*i)&15], 6)
		d = a + rot(d+(b^(a|^c))+md5T[i+1]+x[(7*i+7)&15], 10)
		c = d + rot(c+(a^(d|^b))+md5T[i+2]+x[(7*i+14)&15], 15)
		b = c + rot(b+(d^(c|^a))+md5T[i+3]+x[(7*i+21)&15], 21)
	}
	st[0] += a
	st[1] += b
	st[2] += c
	st[3] += d
}

// md5Prefix returns the first four bytes of MD5(s), big-endian, without
// allocating.
func md5Prefix(s string) uint32 {
	st := md5State{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	var buf [64]byte
	bitLen := uint64(len(s)) << 3
	for len(s) >= len(buf) {
		copy(buf[:], s)
		st.block(&buf)
		s = s[len(buf):]
	}
	// Padding: 0x80, zeros, then the message length in bits, little-endian,
	// in the last 8 bytes of the final block.
	r := copy(buf[:], s)
	buf[r] = 0x80
	clear(buf[r+1:])
	if r >= 56 {
		st.block(&buf)
		clear(buf[:])
	}
	for i := range 8 {
		buf[56+i] = byte(bitLen >> (8 * i))
	}
	st.block(&buf)
	return bits.ReverseBytes32(st[0])
}
