package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	foyer "github.com/foyerhq/foyer"
	"github.com/foyerhq/foyer/client"
	"github.com/foyerhq/foyer/sqlite"
)

func ExampleClient_MergeMe() {
	foyerd := newExampleFoyer()
	defer foyerd.Close()
	ctx := context.Background()
	visitorAPI := client.New(foyerd.URL, "")

	// Ann has an account with progress, saved on her laptop.
	const email, password = "ann@example.org", "correct horse battery staple"
	laptop, err := visitorAPI.CreateAnonymousUser(ctx, json.RawMessage(`{"watched":{"sintel":1,"big-buck-bunny":1}}`))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := visitorAPI.ConvertMe(ctx, laptop.Token, email); err != nil {
		log.Fatal(err)
	}
	if _, err := visitorAPI.CompleteConversion(ctx, foyerd.conversionToken(email), password, laptop.Token); err != nil {
		log.Fatal(err)
	}

	// On her phone she watched before signing in: a second, anonymous
	// account, which the app keeps the token of.
	phone, err := visitorAPI.CreateAnonymousUser(ctx, json.RawMessage(`{"watched":{"sintel":4,"tears-of-steel":1}}`))
	if err != nil {
		log.Fatal(err)
	}

	// She signs in on the phone. Foyer sees the anonymous account and
	// says a merge is possible; it never merges by itself.
	s, err := visitorAPI.Login(ctx, email, password, phone.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("merge available:", s.MergeAvailable)

	// She confirms: the phone's progress moves into her account, under
	// Foyer's default policy (the registered account wins conflicts).
	u, mergedFrom, err := visitorAPI.MergeMe(ctx, s.AccessToken, phone.Token, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.ID == laptop.User.ID, string(u.Data))

	// The phone's old id now points at her account, for the app's own rows.
	alias, err := client.New(foyerd.URL, foyerd.APIKey).FindAlias(ctx, mergedFrom)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(mergedFrom == phone.User.ID, alias.Into == u.ID)

	// The phone's anonymous token no longer works.
	_, err = visitorAPI.Me(ctx, phone.Token)
	fmt.Println(foyer.ErrorCode(err))
	// Output:
	// merge available: true
	// true {"watched":{"big-buck-bunny":1,"sintel":1,"tears-of-steel":1}}
	// true true
	// unauthorized
}

// conversionToken returns the token of the newest conversion link mailed
// to address, as the person would find it in their mailbox. It panics if
// there is none, which fails the example.
func (f *testFoyer) conversionToken(to string) string {
	mail, err := sqlite.NewMailService(f.db).FindMail(context.Background(), &to, 10)
	if err != nil {
		panic(err)
	}
	for _, m := range mail {
		var d foyer.MailData
		if m.Kind == foyer.MailConversion && json.Unmarshal(m.Data, &d) == nil {
			return d.Token
		}
	}
	panic("no conversion mail to " + to)
}
