package globals

// setting is one process setting a block can change without touching a
// package-level variable of its own: "GOMAXPROCS" = "4".
type setting struct {
	name, value string
}

// processSettingsName is the Variable of a change to a process setting,
// and the name Ignoring takes to leave them all out.
const processSettingsName = "process settings"

// diffSettings returns a change for each setting whose value differs.
func diffSettings(before, after []setting) []Change {
	old := make(map[string]string, len(before))
	for _, s := range before {
		old[s.name] = s.value
	}
	var out []Change
	for _, s := range after {
		if b, ok := old[s.name]; ok && b != s.value {
			out = append(out, Change{Variable: processSettingsName, Path: s.name, Kind: kindModified, Before: quoteSetting(b), After: quoteSetting(s.value)})
		}
	}
	return out
}

func quoteSetting(v string) string {
	if v == "" {
		return "none"
	}
	return v
}
