package main

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
)

//go:embed templates
var templateFS embed.FS

// view is what a page shows. Each page uses the fields it needs.
type view struct {
	// Page and State name the page and what it shows, on its <body> as
	// data-page and data-state.
	Page, State string
	Title       string
	// CSRF goes in every form.
	CSRF string
	// User is the visitor's Foyer account, if any; Email is their
	// address, or the one a page is about.
	User  *foyer.User
	Email string
	// Videos and Total are the visitor's progress.
	Videos []videoRow
	Total  int
	// GuestTotal is the progress of this browser's guest account, which
	// could be merged; Guest lists it by video.
	GuestTotal int
	Guest      []videoRow
	// Outcome says what a merge did, video by video.
	Outcome []string
	// SavedEmail is the address this browser saved its progress under.
	SavedEmail string
	// Messages are a development mailbox's.
	Messages []*client.DevMessage
	// FoyerToo says that the browser came back from Foyer's sign-out,
	// which ended the demo's session there.
	FoyerToo bool
	// Message explains an error.
	Message string
}

// videoRow is a video with how many times the visitor watched it.
type videoRow struct {
	video
	Watched int
}

// setProgress fills in Videos and Total from w.
func (v *view) setProgress(w watched) {
	v.Videos = v.Videos[:0]
	for _, vid := range videos {
		v.Videos = append(v.Videos, videoRow{video: vid, Watched: w[vid.ID]})
	}
	v.Total = w.total()
}

// times says how many times, in words.
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return strconv.Itoa(n) + " times"
}

// plural is "1 video", "2 videos".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// pages are the templates, one per page, each with the layout.
type pages map[string]*template.Template

func newPages() pages {
	funcs := template.FuncMap{"times": times, "plural": plural}
	p := pages{}
	for _, name := range []string{"home", "check-email", "mailbox", "merge", "signed-out", "error"} {
		p[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return p
}

// show renders the page of v with status.
func (p pages) show(w http.ResponseWriter, status int, v *view) {
	var b bytes.Buffer
	if err := p[v.Page].Execute(&b, v); err != nil {
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// No scripts, no outside assets, no framing by other sites.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
