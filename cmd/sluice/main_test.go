package main

import (
	"os"
	"testing"
)

// TestMain lets a test run this binary as the sluice command: with
// SLUICE_TEST_MAIN=1 in its environment the test binary is `sluice`, so a
// test can start real `sluice format` and `sluice serve` processes without
// a separate go build.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
