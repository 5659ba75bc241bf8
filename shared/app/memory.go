package app

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
)

// MemoryLimit is the soft limit for the Go runtime in a Lambda function:
// three quarters of the function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
// in MB), leaving the rest to the runtime's own overhead and the stacks.
// Without it the heap grows to twice what is live before each collection
// (GOGC=100), which took a sweep over 10,000 due customers to a peak of
// 130 MB: more than the smallest Lambda's 128 MB. With it, 110 MB. It is
// 0, no limit, outside Lambda or when GOMEMLIMIT is set (the operator's
// choice wins).
func MemoryLimit(lookup func(string) (string, bool)) int64 {
	if v, ok := lookup("GOMEMLIMIT"); ok && v != "" {
		return 0
	}
	v, ok := lookup("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
	mb, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil || mb < 64 || mb > math.MaxInt64>>20 {
		return 0
	}
	return mb << 20 / 4 * 3
}

// LimitMemory applies MemoryLimit from the environment.
func LimitMemory() {
	if n := MemoryLimit(os.LookupEnv); n > 0 {
		debug.SetMemoryLimit(n)
	}
}
