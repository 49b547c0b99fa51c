package main

import (
	"fmt"
	mrand "math/rand"
	"strconv"
	"strings"
)

// keyDist is -keys: which entity each tell goes to.
//
//   - "cycle" (the default): each worker cycles over every entity from its
//     own offset, so every entity gets the same share.
//   - "uniform": each tell to an entity drawn uniformly at random.
//   - "zipf:S" (S > 1): entity i drawn with probability proportional to
//     1/(i+1)^S (math/rand's Zipf): a few entities, and their shards, get
//     most of the load.
//   - "hot:F" (0 < F < 1): a fraction F of the tells go to entity 0, the
//     rest cycle over every entity: one hot entity on one shard.
type keyDist struct {
	kind string  // "cycle", "uniform", "zipf", "hot"
	s    float64 // zipf exponent
	hot  float64 // hot fraction
	text string
}

func parseKeys(text string) (keyDist, error) {
	kind, arg, _ := strings.Cut(text, ":")
	d := keyDist{kind: kind, text: text}
	var err error
	switch kind {
	case "cycle", "uniform":
		if arg != "" {
			return d, fmt.Errorf("-keys %q: %s takes no argument", text, kind)
		}
	case "zipf":
		if d.s, err = strconv.ParseFloat(arg, 64); err != nil || !(d.s > 1) {
			return d, fmt.Errorf("-keys %q: want zipf:S with S > 1", text)
		}
	case "hot":
		if d.hot, err = strconv.ParseFloat(arg, 64); err != nil || !(d.hot > 0 && d.hot < 1) {
			return d, fmt.Errorf("-keys %q: want hot:F with 0 < F < 1", text)
		}
	default:
		return d, fmt.Errorf("-keys %q: want cycle, uniform, zipf:S or hot:F", text)
	}
	return d, nil
}

// keyPicker picks the entity index of each tell of one worker. Owned by
// that worker.
type keyPicker struct {
	d    keyDist
	n    int // entities
	idx  int // the cycle's position
	rnd  *mrand.Rand
	zipf *mrand.Zipf
}

func newKeyPicker(d keyDist, n, worker, workers int, seed int64) *keyPicker {
	k := &keyPicker{d: d, n: n, idx: worker * n / workers, rnd: mrand.New(mrand.NewSource(seed))}
	if d.kind == "zipf" {
		k.zipf = mrand.NewZipf(k.rnd, d.s, 1, uint64(n-1))
	}
	return k
}

// next returns the next tell's entity index.
func (k *keyPicker) next() int {
	switch k.d.kind {
	case "uniform":
		return k.rnd.Intn(k.n)
	case "zipf":
		return int(k.zipf.Uint64())
	case "hot":
		if k.rnd.Float64() < k.d.hot {
			return 0
		}
	}
	i := k.idx
	if k.idx++; k.idx == k.n {
		k.idx = 0
	}
	return i
}
