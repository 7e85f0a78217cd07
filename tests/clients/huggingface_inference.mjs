// The unmodified @huggingface/inference client against one endpoint URL: textGeneration (which POSTs to
// {url}/v1/completions since 4.13.17) and chatCompletion ({url}/v1/chat/completions). Prints one JSON line.
// Usage: node huggingface_inference.mjs <endpoint url> ; the token comes from HF_TOKEN.
import { InferenceClient } from "@huggingface/inference";

const client = new InferenceClient(process.env.HF_TOKEN).endpoint(process.argv[2]);
const generated = await client.textGeneration({ inputs: "one two", parameters: { max_new_tokens: 3 } });
const chat = await client.chatCompletion({ messages: [{ role: "user", content: "one two" }], max_tokens: 2 });
console.log(JSON.stringify({ generated_text: generated.generated_text, chat: chat.choices[0].message.content }));
