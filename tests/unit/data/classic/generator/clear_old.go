//go:build !go1.21

package main

func clearMap(m map[int64]int64) {
	for k := range m {
		delete(m, k)
	}
}
