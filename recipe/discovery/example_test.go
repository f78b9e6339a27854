package discovery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/keeper-go/keeper"
	"github.com/keeper-go/keeper/recipe/discovery"
)

// Details is a payload; a Java reader made for com.example.Details loads
// it when the Discovery writes that class name (WithPayloadClass).
type Details struct {
	Region string `json:"region"`
}

func ExampleDiscovery() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/services")

	d, err := discovery.New[Details](c, "/services", discovery.WithPayloadClass("com.example.Details"))
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close(ctx)
	err = d.Register(ctx, discovery.Instance[Details]{
		Name: "api", ID: "go-1", Address: "10.0.0.5", Port: 8080,
		Payload: Details{Region: "eu"}, RegistrationTimeUTC: 1795390957843,
	})
	if err != nil {
		log.Fatal(err)
	}
	names, _ := d.QueryForNames(ctx)
	fmt.Println(names)
	data, _, _ := c.Get(ctx, "/services/api/go-1")
	fmt.Printf("%s\n", data)
	insts, _ := d.QueryForInstances(ctx, "api")
	fmt.Println(insts[0].ID, insts[0].Payload.Region)
	// Output:
	// [api]
	// {"name":"api","id":"go-1","address":"10.0.0.5","port":8080,"sslPort":null,"payload":{"@class":"com.example.Details","region":"eu"},"registrationTimeUTC":1795390957843,"serviceType":"DYNAMIC","uriSpec":null}
	// go-1 eu
}

func ExampleServiceCache() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/services")

	d, _ := discovery.New[json.RawMessage](c, "/services")
	defer d.Close(ctx)
	sc, err := d.NewCache(ctx, "api")
	if err != nil {
		log.Fatal(err)
	}
	defer sc.Close()
	if err := d.Register(ctx, discovery.Instance[json.RawMessage]{Name: "api", ID: "one"}); err != nil {
		log.Fatal(err)
	}
	for ev := range sc.Events() {
		fmt.Println(ev.Type)
		if ev.Type == discovery.InstanceAdded {
			fmt.Println(ev.ID)
			break
		}
	}
	fmt.Println(len(sc.Instances()), "instance")
	// Output:
	// CacheReady
	// InstanceAdded
	// one
	// 1 instance
}

func ExampleServiceProvider() {
	ctx := context.Background()
	c, err := keeper.Connect(ctx, os.Getenv("ZK_SERVERS"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	defer c.DeleteAll(context.WithoutCancel(ctx), "/services")

	d, _ := discovery.New[json.RawMessage](c, "/services")
	defer d.Close(ctx)
	spec, _ := discovery.ParseURISpec("{scheme}://{address}:{port}/v1")
	for i, addr := range []string{"10.0.0.1", "10.0.0.2"} {
		err := d.Register(ctx, discovery.Instance[json.RawMessage]{
			Name: "api", ID: fmt.Sprint("i", i), Address: addr, Port: 8080, URISpec: spec})
		if err != nil {
			log.Fatal(err)
		}
	}
	p, err := d.NewProvider(ctx, "api", discovery.WithStrategy(discovery.RoundRobin()))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	<-p.Ready()
	for i := 0; i < 3; i++ {
		inst, err := p.Instance()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(inst.BuildURI(nil))
	}
	// Output:
	// http://10.0.0.1:8080/v1
	// http://10.0.0.2:8080/v1
	// http://10.0.0.1:8080/v1
}

func ExampleURISpec() {
	spec, err := discovery.ParseURISpec("{scheme}://{address}:{ssl-port}/{name}")
	if err != nil {
		log.Fatal(err)
	}
	inst := discovery.Instance[any]{Name: "api", Address: "10.0.0.5", Port: 8080, SSLPort: 8443, URISpec: spec}
	fmt.Println(inst.BuildURI(nil))
	fmt.Println(spec.Build(map[string]any{"address": "h", "ssl-port": 1, "name": "x"}))
	// Output:
	// https://10.0.0.5:8443/api
	// http://h:1/x
}

func ExamplePayloadClass() {
	raw := json.RawMessage(`{"@class":"com.example.Details","region":"eu"}`)
	fmt.Println(discovery.PayloadClass(raw))
	// Output: com.example.Details
}
