import assert from "node:assert/strict";
import {
  addKeys,
  addUpstream,
  AdminInputError,
  applyChange,
  clearConfig,
  ConflictError,
  describeRenamed,
  describeRepeatedKeys,
  editUpstream,
  etagOf,
  exportConfig,
  findUpstream,
  importConfig,
  InvalidConfigError,
  moveUpstream,
  parseImport,
  parseKeyList,
  previewImport,
  problemsByField,
  removeKey,
  removeUpstream,
  setStrategy,
  settingsStamp,
  storeTarget,
  UnknownUpstreamError,
  useUpstream,
  versionFromEtag,
} from "../../lib/admin_service.ts";
import { type ConfigDocument, validateDocument } from "../../lib/config_document.ts";
import { maskKey } from "../../lib/secret_mask.ts";
import { keyId } from "../../lib/key_pool.ts";
import { ConfigStore } from "../../lib/store/config_store.ts";

const KEY_A = "sk-aaaaaaaaaaaaaaaaaaaa1111";
const KEY_B = "sk-bbbbbbbbbbbbbbbbbbbb2222";
const KEY_C = "sk-cccccccccccccccccccc3333";

async function withStore(
  fn: (store: ConfigStore, kv: Deno.Kv) => Promise<void> | void,
  doc?: unknown,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const store = await ConfigStore.open(kv, "failover", { watch: false });
  try {
    if (doc) await store.replace(doc);
    await fn(store, kv);
  } finally {
    store.close();
    kv.close();
  }
}

const twoUpstreams = {
  upstream: [
    { name: "one", baseUrl: "https://one.example", serviceType: "openai", apiKeys: [KEY_A] },
    {
      name: "two",
      baseUrl: "https://two.example",
      serviceType: "anthropic",
      apiKeys: [KEY_B],
      fallback: "one",
    },
  ],
  currentUpstream: 1,
  loadBalance: "failover",
};

Deno.test("findUpstream takes a name in any case or an index, and names the choices otherwise", () => {
  const doc = structuredClone(twoUpstreams) as ConfigDocument;
  assert.equal(findUpstream(doc, "TWO"), 1);
  assert.equal(findUpstream(doc, "0"), 0);
  assert.equal(findUpstream(doc, 1), 1);
  assert.throws(() => findUpstream(doc, "three"), (e) => {
    assert.ok(e instanceof UnknownUpstreamError);
    assert.match(e.message, /\[0\] one, \[1\] two/);
    return true;
  });
  assert.throws(() => findUpstream(doc, "2"), UnknownUpstreamError);
});

Deno.test("addUpstream validates; a bad URL or kind changes nothing", async () => {
  await withStore(async (store) => {
    const target = storeTarget(store);
    await addUpstream(target, {
      name: "main",
      baseUrl: "https://api.openai.com/",
      serviceType: "openai",
    });
    assert.equal(store.snapshot.doc.upstream[0].baseUrl, "https://api.openai.com");
    const before = store.snapshot.version;
    await assert.rejects(
      addUpstream(target, { name: "x", baseUrl: "ftp://nope", serviceType: "nosuch" }),
      (e) => {
        assert.ok(e instanceof InvalidConfigError);
        const byField = problemsByField(e.problems, 1);
        assert.ok(byField.baseUrl?.length);
        assert.ok(byField.serviceType?.length);
        return true;
      },
    );
    await assert.rejects(
      addUpstream(target, { name: "MAIN", baseUrl: "https://x.example", serviceType: "openai" }),
      InvalidConfigError,
    );
    assert.equal(store.snapshot.version, before);
  });
});

Deno.test("editUpstream renames and carries fallbacks over; removeUpstream drops them", async () => {
  await withStore(async (store) => {
    const target = storeTarget(store);
    await editUpstream(target, "one", {
      name: "uno",
      baseUrl: "https://one.example",
      serviceType: "openai",
      models: { sonnet: "gpt-4o", default: "gpt-4o-mini" },
      maxTokens: 4096,
    });
    let doc = store.snapshot.doc;
    assert.equal(doc.upstream[0].name, "uno");
    assert.deepEqual(doc.upstream[0].apiKeys, [KEY_A], "keys are kept");
    assert.equal(doc.upstream[1].fallback, "uno");
    assert.equal(doc.upstream[0].maxTokens, 4096);
    // Clearing optional fields removes them.
    await editUpstream(target, "uno", {
      name: "uno",
      baseUrl: "https://one.example",
      serviceType: "openai",
    });
    assert.equal(store.snapshot.doc.upstream[0].models, undefined);
    assert.equal(store.snapshot.doc.upstream[0].maxTokens, undefined);

    const { removed } = await removeUpstream(target, "uno");
    assert.equal(removed.name, "uno");
    doc = store.snapshot.doc;
    assert.equal(doc.upstream.length, 1);
    assert.equal(doc.upstream[0].fallback, undefined);
    assert.equal(doc.currentUpstream, 0, "the current upstream is still two");
  }, twoUpstreams);
});

Deno.test("moveUpstream reorders and keeps the same upstream current; useUpstream switches", async () => {
  await withStore(async (store) => {
    const target = storeTarget(store);
    await moveUpstream(target, "two", -1);
    let doc = store.snapshot.doc;
    assert.deepEqual(doc.upstream.map((u) => u.name), ["two", "one"]);
    assert.equal(doc.upstream[doc.currentUpstream].name, "two");
    await moveUpstream(target, "two", -1); // already first: nothing moves
    assert.deepEqual(store.snapshot.doc.upstream.map((u) => u.name), ["two", "one"]);
    const { name } = await useUpstream(target, "ONE");
    assert.equal(name, "one");
    doc = store.snapshot.doc;
    assert.equal(doc.currentUpstream, 1);
  }, twoUpstreams);
});

Deno.test("setStrategy accepts the three strategies and explains a wrong one", async () => {
  await withStore(async (store) => {
    const target = storeTarget(store);
    await setStrategy(target, "Round-Robin");
    assert.equal(store.snapshot.doc.loadBalance, "round-robin");
    await assert.rejects(setStrategy(target, "fastest"), (e) => {
      assert.ok(e instanceof AdminInputError);
      assert.match(e.message, /round-robin, random, failover/);
      return true;
    });
  });
});

Deno.test("parseKeyList splits lines and commas, counting blanks and repeats", () => {
  assert.deepEqual(parseKeyList(`${KEY_A}\n\n${KEY_B}, ${KEY_A},,${KEY_C}\n`), {
    keys: [KEY_A, KEY_B, KEY_C],
    blanks: 2,
    repeated: 1,
  });
  assert.deepEqual(parseKeyList([KEY_A, KEY_A]), { keys: [KEY_A], blanks: 0, repeated: 1 });
  // A comma ending each line, or the paste, separates nothing.
  assert.deepEqual(parseKeyList(`${KEY_A},\n${KEY_B},\r\n${KEY_C},`), {
    keys: [KEY_A, KEY_B, KEY_C],
    blanks: 0,
    repeated: 0,
  });
  // Copied from a JSON list or a config file: its brackets and quotes are no part of the keys.
  for (
    const pasted of [
      `["${KEY_A}", "${KEY_B}"]`,
      `[\n  "${KEY_A}",\n  '${KEY_B}'\n]`,
      `"${KEY_A}"\n\`${KEY_B}\``,
      `"${KEY_A}";\n${KEY_B};`,
    ]
  ) {
    assert.deepEqual(
      parseKeyList(pasted),
      { keys: [KEY_A, KEY_B], blanks: 0, repeated: 0 },
      pasted,
    );
  }
});

Deno.test("a key half wrapped in quotes is refused when added; one stored before keeps serving and taking changes", async () => {
  const stored = '"sk-stored-before-0123456789"';
  await withStore(async (store) => {
    const target = storeTarget(store);
    await assert.rejects(
      addKeys(target, "one", `"sk-half-quoted-0123456789\nsk-other-0123456789;'`),
      (err: unknown) => {
        assert.ok(err instanceof AdminInputError);
        assert.match(err.message, /^Line 1: a key must not start or end with a quote/);
        assert.match(err.message, /Line 2: a key must not start or end with a quote/);
        return true;
      },
    );
    await setStrategy(target, "random");
    await addKeys(target, "one", KEY_B);
    assert.deepEqual(store.snapshot.doc.upstream[0].apiKeys, [stored, KEY_B]);
  }, {
    upstream: [{
      name: "one",
      baseUrl: "https://one.example",
      serviceType: "openai",
      apiKeys: [stored],
    }],
  });
});

Deno.test("addKeys names every bad line of a paste at once", async () => {
  await withStore(async (store) => {
    const target = storeTarget(store);
    await assert.rejects(
      addKeys(target, "one", `bad key one\n${KEY_A}\nbad key two`),
      (err: unknown) => err instanceof AdminInputError && /^Line 1: .*; Line 3: /.test(err.message),
    );
    assert.deepEqual(store.snapshot.doc.upstream[0].apiKeys, [KEY_A], "nothing added");
  }, twoUpstreams);
});

Deno.test("addKeys skips keys already there and reports it; removeKey takes key, id or index", async () => {
  await withStore(async (store) => {
    const target = storeTarget(store);
    const r = await addKeys(target, "one", `${KEY_A}\n${KEY_B}\n\n${KEY_C}, ${KEY_B}`);
    assert.equal(r.added, 2);
    assert.equal(r.duplicates, 2);
    assert.equal(r.blanks, 1);
    assert.deepEqual(store.snapshot.doc.upstream[0].apiKeys, [KEY_A, KEY_B, KEY_C]);
    await assert.rejects(addKeys(target, "one", "\n ,\n"), AdminInputError);

    assert.equal((await removeKey(target, "one", keyId(KEY_B))).masked, "sk-bbb…2222");
    await removeKey(target, "one", KEY_C);
    await removeKey(target, "one", "0");
    assert.deepEqual(store.snapshot.doc.upstream[0].apiKeys, []);
    await assert.rejects(removeKey(target, "one", "nope"), AdminInputError);
  }, twoUpstreams);
});

Deno.test("a change made against an old version is a conflict, not a lost edit", async () => {
  await withStore(async (store) => {
    const target = storeTarget(store);
    const seen = store.snapshot.version;
    await setStrategy(target, "random"); // the first admin saves
    await assert.rejects(useUpstream(target, "one", seen), ConflictError); // the second is told
    assert.equal(store.snapshot.doc.currentUpstream, 1);
    // Without a version (CLI, API), the change applies to whatever is there.
    await useUpstream(target, "one");
    assert.equal(store.snapshot.doc.loadBalance, "random");
    assert.equal(store.snapshot.doc.currentUpstream, 0);
  }, twoUpstreams);
});

Deno.test("a form conflicts only with a change to what it showed, not to keys or other upstreams", async () => {
  await withStore(async (store) => {
    const target = storeTarget(store);
    const shown = settingsStamp(store.snapshot.doc.upstream[0]);
    await addKeys(target, "one", KEY_B);
    await editUpstream(target, "two", {
      name: "two",
      baseUrl: "https://2.example",
      serviceType: "anthropic",
    });
    await setStrategy(target, "random", "failover");
    const input = { name: "one", baseUrl: "https://1.example", serviceType: "openai" };
    await editUpstream(target, "one", input, shown);
    assert.equal(store.snapshot.doc.upstream[0].baseUrl, "https://1.example");
    assert.deepEqual(store.snapshot.doc.upstream[0].apiKeys, [KEY_A, KEY_B]);

    // The same form sent again: its settings have changed since it was shown.
    await assert.rejects(
      editUpstream(target, "one", { ...input, baseUrl: "https://late.example" }, shown),
      ConflictError,
    );
    assert.equal(store.snapshot.doc.upstream[0].baseUrl, "https://1.example");
    await assert.rejects(setStrategy(target, "round-robin", "failover"), ConflictError);
    assert.equal(store.snapshot.doc.loadBalance, "random");
  }, twoUpstreams);
});

Deno.test("what a form showed is checked against the store, not a snapshot that lags it", async () => {
  await withStore(async (_store, kv) => {
    const lagging = await ConfigStore.open(kv, "failover", { watch: false });
    const other = await ConfigStore.open(kv, "failover", { watch: false });
    try {
      const input = { name: "one", baseUrl: "https://1.example", serviceType: "openai" };
      await editUpstream(storeTarget(other), "one", input);
      await setStrategy(storeTarget(other), "round-robin");
      // Forms rendered by the other instance, sent to this one.
      const shown = settingsStamp((await other.refresh()).doc.upstream[0]);
      await editUpstream(storeTarget(lagging), "one", { ...input, description: "mine" }, shown);
      await setStrategy(storeTarget(lagging), "random", "round-robin");
      const { doc } = await other.refresh();
      assert.equal(doc.upstream[0].description, "mine");
      assert.equal(doc.loadBalance, "random");
    } finally {
      lagging.close();
      other.close();
    }
  }, twoUpstreams);
});

Deno.test("changes made at once without a version all land, none lost to another", async () => {
  await withStore(async (store) => {
    const target = storeTarget(store);
    const keys = Array.from({ length: 20 }, (_, i) => `sk-concurrent-${i}`.padEnd(24, "x"));
    await Promise.all(keys.map((key) => addKeys(target, "one", key)));
    const { doc } = await store.refresh();
    assert.deepEqual(new Set(doc.upstream[0].apiKeys), new Set([KEY_A, ...keys]));
  }, twoUpstreams);
});

Deno.test("applyChange re-reads when the in-memory snapshot lags another writer", async () => {
  await withStore(async (store, kv) => {
    const other = await ConfigStore.open(kv, "failover", { watch: false });
    try {
      await setStrategy(storeTarget(other), "random");
      // `store` has not seen that save; a change without a version still lands on top of it.
      await applyChange(storeTarget(store), (doc) => {
        doc.currentUpstream = 0;
      });
      const latest = await store.refresh();
      assert.equal(latest.doc.loadBalance, "random");
      assert.equal(latest.doc.currentUpstream, 0);
      // A form showing the version the other writer saved is not a conflict either.
      const v = (await other.refresh()).version;
      await useUpstream(storeTarget(other), "two", v);
    } finally {
      other.close();
    }
  }, twoUpstreams);
});

Deno.test("clearConfig removes upstreams and keys, keeping the strategy", async () => {
  await withStore(async (store) => {
    const r = await clearConfig(storeTarget(store));
    assert.deepEqual([r.upstreams, r.keys], [2, 2]);
    assert.deepEqual(store.snapshot.doc.upstream, []);
    assert.equal(store.snapshot.doc.loadBalance, "failover");
  }, twoUpstreams);
});

Deno.test("the original config.json imports: unnamed upstreams, modelMapping, claude", async () => {
  const legacy = {
    upstream: [
      {
        baseUrl: "https://api.openai.com",
        apiKeys: [KEY_A, KEY_B],
        serviceType: "openai",
        description: "main",
        modelMapping: { opus: "o3", sonnet: "gpt-4o", haiku: "gpt-4o-mini" },
      },
      {
        name: "anthropic-relay",
        baseUrl: "https://relay.example/v1",
        apiKeys: [KEY_C],
        serviceType: "claude",
      },
    ],
    currentUpstream: 1,
    loadBalance: "round-robin",
  };
  await withStore(async (store) => {
    const { diff } = await importConfig(storeTarget(store), legacy);
    const doc = store.snapshot.doc;
    assert.equal(doc.upstream[0].name, "openai-1");
    assert.deepEqual(doc.upstream[0].models, {
      opus: "o3",
      sonnet: "gpt-4o",
      haiku: "gpt-4o-mini",
    });
    assert.equal(doc.upstream[0].description, "main");
    assert.equal(doc.upstream[1].serviceType, "claude");
    assert.equal(doc.currentUpstream, 1);
    assert.deepEqual(diff.added, ["openai-1", "anthropic-relay"]);
    assert.deepEqual(diff.keys, { before: 0, after: 3 });
    assert.deepEqual(diff.strategy, { before: "failover", after: "round-robin" });
  });
});

Deno.test("the original's openaiold kind imports as openai, sending max_completion_tokens as it did", async () => {
  const legacy = {
    upstream: [
      { baseUrl: "https://api.openai.com/v1", apiKeys: [KEY_A], serviceType: "openaiold" },
      {
        name: "kept",
        baseUrl: "https://api.openai.com/v1",
        apiKeys: [KEY_B],
        serviceType: "openaiold",
        maxTokensField: "max_tokens",
      },
    ],
    currentUpstream: 0,
    loadBalance: "failover",
  };
  await withStore(async (store) => {
    await importConfig(storeTarget(store), legacy);
    const [first, second] = store.snapshot.doc.upstream;
    assert.deepEqual(
      [first.name, first.serviceType, first.maxTokensField],
      ["openai-1", "openai", "max_completion_tokens"],
    );
    // A field set by hand wins.
    assert.deepEqual([second.serviceType, second.maxTokensField], ["openai", "max_tokens"]);
  });
});

Deno.test("previewImport lists every problem and an export imports back unchanged", async () => {
  await withStore((store) => {
    assert.throws(
      () =>
        previewImport(store.snapshot.doc, {
          upstream: [{ name: "x", baseUrl: "nope", serviceType: "what" }],
          loadBalance: "fastest",
        }),
      (e) => {
        assert.ok(e instanceof InvalidConfigError);
        assert.ok(e.problems.length >= 3, e.problems.join("; "));
        return true;
      },
    );
    assert.throws(() => previewImport(store.snapshot.doc, [1, 2]), InvalidConfigError);
    for (const input of [{}, { upstreams: [] }, { upstream: [], version: 2 }]) {
      assert.throws(() => previewImport(store.snapshot.doc, input), (e) => {
        assert.ok(e instanceof InvalidConfigError);
        assert.match(e.problems.join("; "), /upstream: missing|unknown setting/);
        return true;
      }, JSON.stringify(input));
    }
    const text = exportConfig(store.snapshot.doc);
    const { diff } = previewImport(store.snapshot.doc, parseImport(text));
    assert.equal(diff.hasChanges, false);
    assert.deepEqual(diff.unchanged, ["one", "two"]);
  }, twoUpstreams);
});

Deno.test("an import of the original config.json's free-text names makes them valid and unique, and says so", async () => {
  await withStore(async (store) => {
    const up = (name: string, extra: Record<string, unknown> = {}) => ({
      name,
      baseUrl: "https://x.example/v1",
      serviceType: "openai",
      apiKeys: [],
      ...extra,
    });
    const input = {
      upstream: [
        up("relay"),
        up("Relay"),
        up("OpenRouter/free"),
        up("new"),
        up("relay-2"),
        up(" .. "),
        up("backup", { fallback: "OpenRouter/free" }),
        up("spare", { fallback: "NEW" }),
      ],
      currentUpstream: 3,
      loadBalance: "round-robin",
    };
    const preview = previewImport(store.snapshot.doc, input);
    const names = ["relay", "Relay-3", "OpenRouter-free", "new-1", "relay-2", "..-1"];
    assert.deepEqual(preview.doc.upstream.map((u) => u.name), [...names, "backup", "spare"]);
    // Each fallback still names the upstream it named.
    assert.equal(preview.doc.upstream[6].fallback, "OpenRouter-free");
    assert.equal(preview.doc.upstream[7].fallback, "new-1");
    assert.deepEqual(describeRenamed(preview.renamed), [
      'upstream [1] "Relay" is named "Relay-3": a name must be unique, without "/", and not ".", ".." or "new"',
      'upstream [2] "OpenRouter/free" is named "OpenRouter-free": a name must be unique, without "/", and not ".", ".." or "new"',
      'upstream [3] "new" is named "new-1": a name must be unique, without "/", and not ".", ".." or "new"',
      'upstream [5] ".." is named "..-1": a name must be unique, without "/", and not ".", ".." or "new"',
    ]);
    const { renamed } = await importConfig(storeTarget(store), input);
    assert.equal(renamed.length, 4);
    const { doc } = store.snapshot;
    assert.equal(doc.upstream[doc.currentUpstream].name, "new-1", "the current one stays current");
    // The store itself, as every edit, still refuses a name a document cannot have.
    await assert.rejects(
      store.replace({ upstream: [up("a"), up("A")] }),
      (e) => e instanceof InvalidConfigError && /already used/.test(e.problems.join()),
    );
  });
});

Deno.test("an import whose fallback gives a name several upstreams share is refused as before", async () => {
  await withStore((store) => {
    const up = (name: string, extra: Record<string, unknown> = {}) => ({
      name,
      baseUrl: "https://x.example/v1",
      serviceType: "openai",
      ...extra,
    });
    const input = { upstream: [up("relay"), up("relay"), up("b", { fallback: "RELAY" })] };
    assert.throws(() => previewImport(store.snapshot.doc, input), (e) => {
      assert.ok(e instanceof InvalidConfigError);
      assert.deepEqual(e.problems, [
        'upstream.0.name: "relay" is already used by another upstream',
        'upstream.1.name: "relay" is already used by another upstream',
      ]);
      return true;
    });
  });
});

Deno.test("an import that repeats a key keeps the first of each and says how many it dropped", async () => {
  await withStore(async (store) => {
    const input = {
      upstream: [
        {
          name: "one",
          baseUrl: "https://one.example",
          serviceType: "openai",
          apiKeys: [KEY_B, KEY_A, KEY_B, ` ${KEY_A} `, KEY_C],
        },
        { name: "two", baseUrl: "https://two.example", serviceType: "gemini", apiKeys: [KEY_C] },
      ],
    };
    const preview = previewImport(store.snapshot.doc, input);
    assert.deepEqual(preview.doc.upstream[0].apiKeys, [KEY_B, KEY_A, KEY_C]);
    assert.deepEqual(preview.repeatedKeys, [{ upstream: "one", count: 2 }]);
    assert.deepEqual(describeRepeatedKeys(preview.repeatedKeys), [
      "one listed 2 keys more than once; each is kept once",
    ]);
    const { repeatedKeys } = await importConfig(storeTarget(store), input);
    assert.deepEqual(repeatedKeys, [{ upstream: "one", count: 2 }]);
    assert.deepEqual(store.snapshot.doc.upstream[0].apiKeys, [KEY_B, KEY_A, KEY_C]);
    assert.deepEqual(store.snapshot.doc.upstream[1].apiKeys, [KEY_C]);
  });
});

Deno.test("parseImport never quotes the input back (it may hold keys)", () => {
  assert.throws(() => parseImport(`{"apiKeys": [${KEY_A}]}`), (e) => {
    assert.ok(e instanceof InvalidConfigError);
    assert.ok(!e.problems.join(" ").includes("sk-"), e.problems.join(" "));
    return true;
  });
});

Deno.test("etags carry the version, with none before the first save", () => {
  assert.equal(etagOf(null), '"none"');
  assert.equal(versionFromEtag(etagOf(null)), null);
  assert.equal(versionFromEtag(etagOf("0001")), "0001");
  assert.equal(versionFromEtag('W/"0001"'), "0001");
  assert.equal(versionFromEtag("*"), undefined);
  assert.equal(versionFromEtag(undefined), undefined);
});

Deno.test("problemsByField: both holders of a name are told, each at its own Name only; other upstreams' problems read plainly", () => {
  const u = (name: string, fallback?: string) => ({
    name,
    baseUrl: "https://x.example",
    serviceType: "openai",
    ...(fallback !== undefined ? { fallback } : {}),
  });
  let problems: string[] = [];
  try {
    validateDocument({ upstream: [u("a"), u("A"), u("c", " ")] }, "failover");
  } catch (err) {
    problems = (err as InvalidConfigError).problems;
  }
  assert.deepEqual(problemsByField(problems, 0).name, ['"a" is already used by another upstream']);
  assert.deepEqual(problemsByField(problems, 1).name, ['"A" is already used by another upstream']);
  assert.deepEqual(problemsByField(problems, 0, ["a", "A", "c"])[""], [
    "Upstream “c”, fallback: must name another upstream",
  ]);
  // Seen from an upstream whose own name is fine, another's clash is still said.
  assert.deepEqual(problemsByField(problems, 2, ["a", "A", "c"])[""], [
    'Upstream “a”, name: "a" is already used by another upstream',
    'Upstream “A”, name: "A" is already used by another upstream',
  ]);
});

Deno.test("maskKey shows a short key's last 2 characters at most, a long one its ends", () => {
  assert.equal(maskKey("abcdefg"), "•••••••");
  assert.equal(maskKey("abc"), "•••");
  assert.equal(maskKey("abcdefghi"), "•••…hi");
  assert.equal(maskKey("sk-0123456789abcde"), "•••…de");
  assert.equal(maskKey("sk-ant-api03-0123456789"), "sk-…89");
  assert.equal(maskKey("gsk_1234567890abcdef"), "gsk…ef");
  assert.equal(maskKey("sk-ant-api03-0123456789ab"), "sk-ant…89ab");
  assert.equal(maskKey("sk-proj-0123456789abcdefghijklmnopqrstuvwxyz"), "sk-pro…wxyz");
});
