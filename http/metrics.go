package http

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	signups  prometheus.Counter

	// byRoute holds the counter and histogram of each route and status
	// seen so far (routeStatus → *routeMetrics), so that a request does
	// not hash its labels twice. Routes and statuses are few, so it stays
	// small.
	byRoute sync.Map
}

// routeStatus identifies the series of one route and status.
type routeStatus struct {
	route  string
	status int
}

// routeMetrics are the series of one route and status.
type routeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func newMetrics(reg prometheus.Registerer, counts func(context.Context) (int64, int64, error)) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foyer_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "foyer_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "code"}),
		signups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "foyer_anonymous_signups_total",
			Help: "Anonymous users created through the API.",
		}),
	}
	m.requests = register(reg, m.requests)
	m.latency = register(reg, m.latency)
	m.signups = register(reg, m.signups)
	if counts != nil {
		register(reg, prometheus.Collector(&userCollector{counts: counts}))
	}
	return m
}

// register registers c on reg, or returns the collector already there
// when a second server shares the registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("foyerhttp: register metrics: " + err.Error())
	}
	return c
}

// observe records one request.
func (m *metrics) observe(route string, status int, d time.Duration) {
	key := routeStatus{route, status}
	v, ok := m.byRoute.Load(key)
	if !ok {
		code := strconv.Itoa(status)
		v, _ = m.byRoute.LoadOrStore(key, &routeMetrics{
			requests: m.requests.WithLabelValues(route, code),
			latency:  m.latency.WithLabelValues(route, code),
		})
	}
	rm := v.(*routeMetrics)
	rm.requests.Inc()
	rm.latency.Observe(d.Seconds())
}

// userCollector reports foyer_users{state} by asking the store at scrape
// time, so the gauge costs nothing between scrapes.
type userCollector struct {
	counts func(context.Context) (int64, int64, error)
}

var usersDesc = prometheus.NewDesc("foyer_users", "Users by state.", []string{"state"}, nil)

func (c *userCollector) Describe(ch chan<- *prometheus.Desc) { ch <- usersDesc }

func (c *userCollector) Collect(ch chan<- prometheus.Metric) {
	// Collect has no context of its own; bound the query.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	anon, reg, err := c.counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(usersDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(usersDesc, prometheus.GaugeValue, float64(anon), "anonymous")
	ch <- prometheus.MustNewConstMetric(usersDesc, prometheus.GaugeValue, float64(reg), "registered")
}
