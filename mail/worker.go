package mail

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/foyerhq/foyer"
)

// Never is the NextAttemptAt of a message the Worker gave up on: it stays
// in the queue, readable through MailService.FindMail with its LastError,
// and is never claimed again.
var Never = time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)

// Worker drains the durable mail queue: it claims due messages, renders
// them and hands them to the Sender, recording each outcome in the store.
// A failed attempt is retried with exponential backoff and jitter; after
// MaxAttempts attempts, or at once when retrying cannot help (a template
// that cannot render the message, a recipient the server refuses), the
// Worker gives up and records why.
//
// The exported fields are set before Run or RunOnce is called and not
// changed afterwards. Several Workers may share a store: on PostgreSQL
// their claims never overlap, and a crashed Worker's claim lapses after
// Lease, when another one takes the message.
type Worker struct {
	// Store is the mail queue. Required.
	Store foyer.MailService
	// Sender delivers messages. When nil the Worker runs in development
	// mode: nothing is sent, each message is logged with its link and
	// marked sent, so it stays readable through MailService.FindMail.
	Sender Sender
	// Templates renders messages. Required.
	Templates *Templates
	// Logger receives delivery failures and, in development mode, the
	// messages; nil discards.
	Logger *slog.Logger
	// Now is the clock, time.Now by default.
	Now func() time.Time

	// Interval is how often Run looks for due messages, 10 seconds by
	// default; Notify wakes it sooner.
	Interval time.Duration
	// Lease is how long a claim keeps a message from other claimers,
	// 5 minutes by default. It must exceed the Sender's timeout.
	Lease time.Duration
	// BatchSize is how many messages one claim takes, 20 by default.
	BatchSize int
	// MaxAttempts is how many attempts a message gets, 10 by default.
	MaxAttempts int
	// RetryBase is the wait after the first failed attempt, 30 seconds by
	// default; it doubles with each further failure, up to RetryMax.
	RetryBase time.Duration
	// RetryMax caps the wait between attempts, 1 hour by default.
	RetryMax time.Duration

	wakeOnce sync.Once
	wake     chan struct{}
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (w *Worker) wakeChan() chan struct{} {
	w.wakeOnce.Do(func() { w.wake = make(chan struct{}, 1) })
	return w.wake
}

// Notify wakes Run at once, so that mail queued by a request goes out
// without waiting for the next tick. It never blocks; wake-ups that arrive
// while Run is busy are merged into one.
func (w *Worker) Notify() {
	select {
	case w.wakeChan() <- struct{}{}:
	default:
	}
}

// Render returns the subject, plain text and HTML of m, as the Worker
// would send it; see Templates.Render.
func (w *Worker) Render(m *foyer.Mail) (subject, text, html string, err error) {
	if w.Templates == nil {
		return "", "", "", errors.New("mail: Worker has no Templates")
	}
	return w.Templates.Render(m)
}

// Run delivers due mail until ctx is done: at once, then every Interval
// and whenever Notify is called. A failing round is logged and retried at
// the next one. Run returns nil when ctx is done.
func (w *Worker) Run(ctx context.Context) error {
	if w.Store == nil || w.Templates == nil {
		return errors.New("mail: Worker needs a Store and Templates")
	}
	log := w.logger()
	if w.Sender == nil {
		log.WarnContext(ctx, "mail: no SMTP server configured; messages are logged and marked sent, not delivered")
	}
	wake := w.wakeChan()
	ticker := time.NewTicker(cmp.Or(w.Interval, 10*time.Second))
	defer ticker.Stop()
	for {
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "mail: deliver queued mail", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-wake:
		}
	}
}

// RunOnce claims due messages in batches until a batch comes back short,
// attempts each one and reports how many were delivered (or, in
// development mode, logged). A failed delivery is recorded on its message
// and is not an error of RunOnce; an error is returned when the store
// fails or ctx ends, and the messages not yet attempted are then retried
// once their claim lapses.
func (w *Worker) RunOnce(ctx context.Context) (sent int, err error) {
	if w.Store == nil || w.Templates == nil {
		return 0, errors.New("mail: Worker needs a Store and Templates")
	}
	batch := cmp.Or(w.BatchSize, 20)
	lease := cmp.Or(w.Lease, 5*time.Minute)
	for {
		claimedAt := w.now()
		ms, err := w.Store.ClaimMail(ctx, claimedAt, lease, batch)
		if err != nil {
			return sent, fmt.Errorf("claim mail: %w", err)
		}
		for _, m := range ms {
			if err := ctx.Err(); err != nil {
				return sent, err
			}
			if w.now().Sub(claimedAt) >= lease/2 {
				// The claim is running out, and once it lapses another
				// worker may take the message: hand it back instead of
				// racing that worker.
				if err := w.Store.MarkMailFailed(ctx, m.ID, w.now(), "not attempted: the claim ran short before its turn"); err != nil {
					return sent, fmt.Errorf("release mail %s: %w", m.ID, err)
				}
				continue
			}
			ok, err := w.deliver(ctx, m)
			if ok {
				sent++
			}
			if err != nil {
				return sent, err
			}
		}
		if len(ms) < batch {
			return sent, nil
		}
	}
}

// deliver makes one attempt at m and records its outcome. It reports
// whether m was delivered; an error means the outcome could not be
// recorded or ctx ended.
func (w *Worker) deliver(ctx context.Context, m *foyer.Mail) (bool, error) {
	log := w.logger()
	maxAttempts := cmp.Or(w.MaxAttempts, 10)
	now := w.now()
	if m.Attempts > maxAttempts {
		// Earlier claims lapsed without an outcome (a worker crashed or
		// was stopped mid-delivery) until the attempts ran out.
		return false, w.giveUp(ctx, m, fmt.Sprintf("gave up after %d attempts whose outcome was never recorded", m.Attempts))
	}
	msg, err := w.Templates.Message(m, now)
	if err != nil {
		return false, w.giveUp(ctx, m, err.Error())
	}

	if w.Sender == nil {
		subject, _, _, _ := w.Templates.Render(m)
		d, _ := w.Templates.Data(m)
		log.InfoContext(ctx, "mail: development mode, message not sent",
			slog.String("id", m.ID), slog.String("kind", m.Kind), slog.String("to", m.To),
			slog.String("subject", subject), slog.String("link", d.Link))
		return true, w.markSent(ctx, m)
	}

	sendErr := w.Sender.Send(ctx, w.Templates.EnvelopeFrom(), m.To, msg)
	if sendErr == nil {
		return true, w.markSent(ctx, m)
	}
	if ctx.Err() != nil {
		// Stopping: whether the server took the message is unknown, so
		// the claim is left to lapse and the message is tried again.
		return false, ctx.Err()
	}
	if _, ok := errors.AsType[*PermanentError](sendErr); ok {
		log.WarnContext(ctx, "mail: delivery refused, giving up",
			slog.String("id", m.ID), slog.String("kind", m.Kind), slog.Int("attempt", m.Attempts), slog.Any("err", sendErr))
		return false, w.giveUp(ctx, m, sendErr.Error())
	}
	if m.Attempts >= maxAttempts {
		log.WarnContext(ctx, "mail: delivery failed, giving up",
			slog.String("id", m.ID), slog.String("kind", m.Kind), slog.Int("attempt", m.Attempts), slog.Any("err", sendErr))
		return false, w.giveUp(ctx, m, fmt.Sprintf("gave up after %d attempts: %v", m.Attempts, sendErr))
	}
	next := now.Add(w.backoff(m.Attempts))
	log.WarnContext(ctx, "mail: delivery failed, will retry",
		slog.String("id", m.ID), slog.String("kind", m.Kind), slog.Int("attempt", m.Attempts),
		slog.Time("next_attempt_at", next), slog.Any("err", sendErr))
	if err := w.Store.MarkMailFailed(ctx, m.ID, next, sendErr.Error()); err != nil {
		return false, fmt.Errorf("record failed mail %s: %w", m.ID, err)
	}
	return false, nil
}

// markSent records a delivery even when ctx has just ended: the server
// has the message, and forgetting that would send it twice.
func (w *Worker) markSent(ctx context.Context, m *foyer.Mail) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.Store.MarkMailSent(ctx, m.ID); err != nil {
		return fmt.Errorf("record sent mail %s: %w", m.ID, err)
	}
	return nil
}

func (w *Worker) giveUp(ctx context.Context, m *foyer.Mail, reason string) error {
	if err := w.Store.MarkMailFailed(ctx, m.ID, Never, reason); err != nil {
		return fmt.Errorf("record failed mail %s: %w", m.ID, err)
	}
	return nil
}

// backoff returns the wait after the given number of failed attempts:
// RetryBase doubled for each attempt after the first, capped at RetryMax,
// of which a random part up to half is taken off so that messages that
// failed together do not all retry together.
func (w *Worker) backoff(attempts int) time.Duration {
	base := cmp.Or(w.RetryBase, 30*time.Second)
	limit := cmp.Or(w.RetryMax, time.Hour)
	d := limit
	if shift := attempts - 1; shift < 32 && base<<max(shift, 0) < limit && base<<max(shift, 0) > 0 {
		d = base << max(shift, 0)
	}
	half := d / 2
	return d - half + rand.N(half+1)
}
