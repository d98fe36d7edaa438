//go:build !unix

package oidc_test

import "time"

// processCPU reports -1: the process's CPU time is only read on Unix.
func processCPU() time.Duration { return -1 }
