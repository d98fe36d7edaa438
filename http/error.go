package http

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	foyer "github.com/foyerhq/foyer"
)

// codeStatus maps every error code to its one HTTP status. A code missing
// here is reported as internal.
var codeStatus = map[string]int{
	foyer.EInvalid:              http.StatusBadRequest,
	foyer.EMalformedJSON:        http.StatusBadRequest,
	foyer.ETokenInvalid:         http.StatusBadRequest,
	foyer.EInvalidPassword:      http.StatusBadRequest,
	foyer.EUnauthorized:         http.StatusUnauthorized,
	foyer.EInvalidCredentials:   http.StatusUnauthorized,
	foyer.EForbidden:            http.StatusForbidden,
	foyer.ENotFound:             http.StatusNotFound,
	foyer.EMethodNotAllowed:     http.StatusMethodNotAllowed,
	foyer.EConflict:             http.StatusConflict,
	foyer.EIdentifierTaken:      http.StatusConflict,
	foyer.EPreconditionFailed:   http.StatusPreconditionFailed,
	foyer.ETooLarge:             http.StatusRequestEntityTooLarge,
	foyer.EUnsupportedMediaType: http.StatusUnsupportedMediaType,
	foyer.ERateLimited:          http.StatusTooManyRequests,
	foyer.EInternal:             http.StatusInternalServerError,
	foyer.EUnavailable:          http.StatusServiceUnavailable,
}

// ErrorStatus returns the HTTP status of an error code; unknown codes are
// 500, as they are reported as internal.
func ErrorStatus(code string) int {
	if st, ok := codeStatus[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError writes err as {"error":{"code","message"}} with the status of
// its code. Server-side failures (5xx) are logged here, once, with the
// request id and route; their message to the client stays generic.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := foyer.ErrorCode(err)
	status, ok := codeStatus[code]
	if !ok {
		code, status = foyer.EInternal, http.StatusInternalServerError
	}
	msg := foyer.ErrorMessage(err)
	if code == foyer.EInternal {
		msg = "An internal error occurred."
	}
	if status >= 500 && !errors.Is(err, context.Canceled) {
		s.logger.ErrorContext(r.Context(), "request failed",
			slog.String("request_id", w.Header().Get("X-Request-Id")),
			slog.String("method", r.Method),
			slog.String("route", r.Pattern),
			slog.String("code", code),
			slog.Any("err", err))
	}
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="foyer"`)
	}
	body, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: msg}})
	h := w.Header()
	h.Del("ETag")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
