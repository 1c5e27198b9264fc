//go:build !race

package fds_test

const raceEnabled = false
