package probes

// GroupFindings returns one finding per key among n things a report found,
// in the order of each key's first thing, with the count of things of that
// key: thing i has key key(i), and the first thing of a key gives the
// finding's summary, summary(i).
func GroupFindings(n int, key, summary func(i int) string) []Finding {
	var out []Finding
	index := map[string]int{}
	for i := range n {
		k := key(i)
		if j, ok := index[k]; ok {
			out[j].Count++
			continue
		}
		index[k] = len(out)
		out = append(out, Finding{Key: k, Count: 1, Summary: summary(i)})
	}
	return out
}
