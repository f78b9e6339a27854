package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/cmd/keeper/web"
)

// connectBackend connects to its servers on first use.
type connectBackend struct{ servers string }

func (b connectBackend) Client(ctx context.Context) (*keeper.Client, error) {
	return keeper.Connect(ctx, b.servers)
}

// A Server is an http.Handler: here behind httptest, asked for its
// ensembles with the token as a bearer header (the page uses a cookie).
func ExampleNew() {
	srv, err := web.New(web.Config{
		Ensembles: []web.Ensemble{{Name: "local", Servers: "127.0.0.1:2181", Backend: connectBackend{"127.0.0.1:2181"}}},
		Token:     "s3cret",
		ReadOnly:  true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	req, _ := http.NewRequest("GET", ts.URL+"/api/info", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.Status, " ", string(body))
	// Output: 200 OK {"ensembles":[{"name":"local","servers":"127.0.0.1:2181","tools":false}],"readOnly":true,"version":""}
}
