package foyer

import (
	"context"
	"time"
)

// Report metrics counted per day. The stores keep these counters in the
// same transaction as the change they count, so reports survive the
// deletion of the accounts they describe (reaped visitors are still
// counted as created on the day they were created).
const (
	MetricAnonymousCreated    = "anonymous_created"
	MetricRegisteredCreated   = "registered_created" // created registered by the server API
	MetricConversionRequested = "conversion_requested"
	MetricConverted           = "converted"
	MetricReaped              = "reaped"
	MetricMerged              = "merged"
	MetricDeleted             = "deleted" // by the person or an admin
	// MetricActiveAnonymous and MetricActiveRegistered count, per month
	// (on the month's first day), the users seen at least once that
	// month: the first recorded activity of a user in a new month
	// increments them.
	MetricActiveAnonymous  = "active_anonymous"
	MetricActiveRegistered = "active_registered"
)

// DayCount is the count of a metric on one UTC day.
type DayCount struct {
	Day   time.Time `json:"day"`
	Count int64     `json:"count"`
}

// TimeToConvert describes how long conversions took, for accounts that
// converted in a range.
type TimeToConvert struct {
	Count  int64         `json:"count"`
	Median time.Duration `json:"-"`
	P90    time.Duration `json:"-"`
	// Buckets counts conversions by time taken, with upper bounds
	// TimeToConvertBuckets (the last bucket is everything longer).
	Buckets []int64 `json:"buckets"`
}

// MarshalJSON encodes the durations as whole seconds
// (median_seconds, p90_seconds), the unit the reports use.
func (t TimeToConvert) MarshalJSON() ([]byte, error) {
	return marshalCompact(struct {
		Count         int64   `json:"count"`
		MedianSeconds int64   `json:"median_seconds"`
		P90Seconds    int64   `json:"p90_seconds"`
		Buckets       []int64 `json:"buckets"`
	}{t.Count, int64(t.Median.Seconds()), int64(t.P90.Seconds()), t.Buckets})
}

// TimeToConvertBuckets are the upper bounds of TimeToConvert.Buckets.
var TimeToConvertBuckets = []time.Duration{
	time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour,
}

// ReportService answers the reports of the admin console and
// /v1/reports/*. Every query is index-backed: none scans all users.
type ReportService interface {
	// CountPerDay returns metric's count for each UTC day in [from, to),
	// with zero days included, oldest first.
	CountPerDay(ctx context.Context, metric string, from, to time.Time) ([]DayCount, error)
	// TimeToConvert summarises the users converted in [from, to).
	TimeToConvert(ctx context.Context, from, to time.Time) (*TimeToConvert, error)
	// ActiveUsers counts the existing anonymous and registered users last
	// seen at or after since.
	ActiveUsers(ctx context.Context, since time.Time) (anonymous, registered int64, err error)
	// ReturnedAfterADay counts the anonymous accounts created in
	// [from, to) (converted ones included) that were seen again at least
	// a day after they were created.
	ReturnedAfterADay(ctx context.Context, from, to time.Time) (int64, error)
}
