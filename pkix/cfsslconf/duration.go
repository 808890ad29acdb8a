package cfsslconf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FormatDuration prints long durations in days, which is how people think
// about certificate lifetimes ("365d", not "8760h0m0s").
func FormatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	if d >= 24*time.Hour {
		return fmt.Sprintf("%.1fd", d.Hours()/24)
	}
	return d.String()
}

// MaxDurationDays bounds durations given in days, well below where
// time.Duration (about 292 years) would wrap around.
const MaxDurationDays = 36500

// ParseDuration accepts Go durations ("8760h") and whole days ("30d"),
// which is how people write certificate lifetimes: positive, and at most
// 100 years.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			if n > MaxDurationDays {
				return 0, fmt.Errorf("%q is longer than 100 years", s)
			}
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	if d > MaxDurationDays*24*time.Hour {
		return 0, fmt.Errorf("%q is longer than 100 years", s)
	}
	return d, nil
}
