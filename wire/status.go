package wire

import "strconv"

var memberStatusNames = [...]string{
	StatusJoining: "joining",
	StatusUp:      "up",
	StatusLeaving: "leaving",
	StatusDown:    "down",
	StatusRemoved: "removed",
}

// String returns the member name ("up"), or "MemberStatus(N)" for an invalid
// value.
func (s MemberStatus) String() string {
	if n := s.EnumName(); n != "" {
		return n
	}
	return "MemberStatus(" + strconv.Itoa(int(s)) + ")"
}

// EnumName returns the Python member name used on the wire ("joining", "up",
// "leaving", "down", "removed"), or "" for an invalid value.
func (s MemberStatus) EnumName() string {
	if int(s) < len(memberStatusNames) {
		return memberStatusNames[s]
	}
	return ""
}

// SetEnumName sets s from a Python member name. An unknown name leaves s
// unchanged and returns an *EnumError.
func (s *MemberStatus) SetEnumName(name string) error {
	for i, n := range memberStatusNames {
		if n != "" && n == name {
			*s = MemberStatus(i)
			return nil
		}
	}
	return &EnumError{Enum: TypeMemberStatus, Name: name}
}

// EnumError reports an enum member name that the Go type does not know.
type EnumError struct {
	Enum string // Python enum type name
	Name string // the unknown member name
}

func (e *EnumError) Error() string {
	return "wire: unknown member " + strconv.Quote(e.Name) + " of enum " + e.Enum
}
