package client_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
)

func ExampleClient_CreateApp() {
	foyerd := newExampleFoyer()
	defer foyerd.Close()
	ctx := context.Background()
	c := client.New(foyerd.URL, foyerd.APIKey)

	// An app registers itself on start, unless an earlier start did: then
	// it takes a new secret, since Foyer shows a secret only once.
	const callback = "https://videos.example/callback"
	register := func() (clientID, secret string) {
		apps, err := c.ListApps(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, a := range apps {
			if a.Name == "Videos" && slices.Contains(a.RedirectURIs, callback) {
				secret, err := c.NewAppSecret(ctx, a.ID)
				if err != nil {
					log.Fatal(err)
				}
				return a.ID, secret
			}
		}
		a := &foyer.App{Name: "Videos", Type: foyer.AppConfidential, RedirectURIs: []string{callback}}
		secret, err = c.CreateApp(ctx, a)
		if err != nil {
			log.Fatal(err)
		}
		return a.ID, secret
	}

	firstID, firstSecret := register()
	againID, againSecret := register()
	fmt.Println("same client id:", firstID == againID)
	fmt.Println("new secret:", againSecret != firstSecret, strings.HasPrefix(againSecret, "foyer_cs_"))

	apps, err := c.ListApps(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(apps), apps[0].Name, apps[0].Type, apps[0].RedirectURIs)
	// Output:
	// same client id: true
	// new secret: true true
	// 1 Videos confidential [https://videos.example/callback]
}
