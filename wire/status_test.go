package wire

import (
	"errors"
	"testing"
)

func TestMemberStatusNames(t *testing.T) {
	for _, tt := range []struct {
		s    MemberStatus
		name string
	}{
		{StatusJoining, "joining"}, {StatusUp, "up"}, {StatusLeaving, "leaving"}, {StatusDown, "down"}, {StatusRemoved, "removed"},
	} {
		if got := tt.s.EnumName(); got != tt.name {
			t.Errorf("EnumName(%d): got %q, want %q", tt.s, got, tt.name)
		}
		if got := tt.s.String(); got != tt.name {
			t.Errorf("String(%d): got %q, want %q", tt.s, got, tt.name)
		}
		var s MemberStatus
		if err := s.SetEnumName(tt.name); err != nil || s != tt.s {
			t.Errorf("SetEnumName(%q): got (%d, %v), want %d", tt.name, s, err, tt.s)
		}
	}
	for _, s := range []MemberStatus{0, 6, 255} {
		if s.EnumName() != "" {
			t.Errorf("EnumName(%d): got %q, want empty", s, s.EnumName())
		}
	}
	if got := MemberStatus(9).String(); got != "MemberStatus(9)" {
		t.Errorf("got %q", got)
	}
	s := StatusUp
	for _, name := range []string{"", "UP", "Up", "unknown"} {
		var ee *EnumError
		if err := s.SetEnumName(name); !errors.As(err, &ee) || s != StatusUp {
			t.Errorf("SetEnumName(%q): got (%d, %v), want EnumError and unchanged", name, s, err)
		}
	}
}
