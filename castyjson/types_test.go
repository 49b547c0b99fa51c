package castyjson

import (
	"math"
	"reflect"
	"testing"

	"github.com/zerohop/zerohop/wire"
)

// Application messages of the live Casty demo (app_messages.py), as a Go
// client declares them.
type Increment struct {
	Amount int
}

type GetCount struct {
	ReplyTo wire.Ref
}

type CountReply struct {
	EntityID string
	Value    int
}

type GetStats struct {
	ReplyTo wire.Ref
}

type ResetStats struct{}

type NodeStats struct {
	Node        string
	Increments  int
	AmountTotal int
	Entities    int
	FirstAt     float64
	LastAt      float64
}

const (
	pyIncrement  = "app_messages.Increment"
	pyGetCount   = "app_messages.GetCount"
	pyCountReply = "app_messages.CountReply"
	pyGetStats   = "app_messages.GetStats"
	pyResetStats = "app_messages.ResetStats"
	pyNodeStats  = "app_messages.NodeStats"
)

// testRegistry is NewRegistry plus the demo's application messages.
func testRegistry(tb testing.TB) *Registry {
	tb.Helper()
	r := NewRegistry()
	for name, sample := range map[string]any{
		pyIncrement:  Increment{},
		pyGetCount:   GetCount{},
		pyCountReply: CountReply{},
		pyGetStats:   GetStats{},
		pyResetStats: ResetStats{},
		pyNodeStats:  NodeStats{},
	} {
		if err := r.Register(name, sample); err != nil {
			tb.Fatalf("Register(%s): %v", name, err)
		}
	}
	return r
}

// valuesEqual is reflect.DeepEqual with the equivalences the codec
// promises: NaN equals NaN, a nil slice or map equals an empty one, and two
// maps are equal when they hold equal values under equal keys even if
// their Go map types differ (a plain object decodes to map[string]any and
// re-encodes as a __dict__, which decodes to map[any]any, as in Casty).
func valuesEqual(a, b any) bool {
	return equalValue(reflect.ValueOf(a), reflect.ValueOf(b))
}

func equalValue(a, b reflect.Value) bool {
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid()
	}
	if a.Kind() == reflect.Interface {
		if a.IsNil() {
			return !b.IsValid() || (b.Kind() == reflect.Interface && b.IsNil())
		}
		a = a.Elem()
	}
	if b.Kind() == reflect.Interface {
		if b.IsNil() {
			return false
		}
		b = b.Elem()
	}
	if a.Kind() == reflect.Map && b.Kind() == reflect.Map {
		if a.Len() != b.Len() {
			return false
		}
		it := a.MapRange()
		for it.Next() {
			k := it.Key()
			if k.Kind() == reflect.Interface && !k.IsNil() {
				k = k.Elem()
			}
			if !k.Type().AssignableTo(b.Type().Key()) {
				return false
			}
			bv := b.MapIndex(k)
			if !bv.IsValid() || !equalValue(it.Value(), bv) {
				return false
			}
		}
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || (math.IsNaN(x) && math.IsNaN(y))
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !equalValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !equalValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// mustRef parses a ref URI.
func mustRef(tb testing.TB, uri string) wire.Ref {
	tb.Helper()
	a, err := wire.ParseAddress(uri)
	if err != nil {
		tb.Fatalf("ParseAddress(%q): %v", uri, err)
	}
	return wire.Ref{Address: a}
}
