// nats-go: a tiny NATS client on github.com/nats-io/nats.go (not nats.js), used by Carrier's interop
// spec to prove that plain NATS clients read and write Carrier messages.
//
//	nats-go pub  <url> <subject> <body-base64> [Name=value ...]   publish to JetStream, print the PubAck
//	nats-go next <url> <stream> <consumer>                        fetch one message of a durable consumer,
//	                                                              ack it, print it as JSON
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

type received struct {
	Subject string              `json:"subject"`
	Headers map[string][]string `json:"headers"`
	Data    string              `json:"data"`
	Seq     uint64              `json:"seq"`
	Count   uint64              `json:"deliveryCount"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "nats-go: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: nats-go pub|next <url> ...")
	}
	nc, err := nats.Connect(os.Args[2], nats.Name("carrier-interop-go"))
	if err != nil {
		fail("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fail("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	switch os.Args[1] {
	case "pub":
		if len(os.Args) < 5 {
			fail("usage: nats-go pub <url> <subject> <body-base64> [Name=value ...]")
		}
		body, err := base64.StdEncoding.DecodeString(os.Args[4])
		if err != nil {
			fail("body: %v", err)
		}
		msg := nats.NewMsg(os.Args[3])
		msg.Data = body
		for _, kv := range os.Args[5:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				fail("header %q is not Name=value", kv)
			}
			msg.Header.Add(k, v)
		}
		ack, err := js.PublishMsg(ctx, msg)
		if err != nil {
			fail("publish: %v", err)
		}
		out, _ := json.Marshal(ack)
		fmt.Println(string(out))
	case "next":
		if len(os.Args) < 5 {
			fail("usage: nats-go next <url> <stream> <consumer>")
		}
		cons, err := js.Consumer(ctx, os.Args[3], os.Args[4])
		if err != nil {
			fail("consumer: %v", err)
		}
		msg, err := cons.Next(jetstream.FetchMaxWait(15 * time.Second))
		if err != nil {
			fail("next: %v", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			fail("metadata: %v", err)
		}
		if err := msg.DoubleAck(ctx); err != nil {
			fail("ack: %v", err)
		}
		out, _ := json.Marshal(received{
			Subject: msg.Subject(),
			Headers: msg.Headers(),
			Data:    base64.StdEncoding.EncodeToString(msg.Data()),
			Seq:     meta.Sequence.Stream,
			Count:   meta.NumDelivered,
		})
		fmt.Println(string(out))
	default:
		fail("unknown command %q", os.Args[1])
	}
}
