// One KAN layer of each basis on the same inputs: parameters and output shape.
import { createKanLayer, KAN_BASES, Random, randn, setBackend, tidy } from 'katjs';

await setBackend('cpu');
const x = randn([32, 8], { seed: 1 });                 // 32 rows, 8 inputs
for (const basis of KAN_BASES) {
  const layer = createKanLayer(basis, 8, 4, new Random(0));
  const y = tidy(() => layer.forward(x));              // tidy frees the intermediates
  console.log(`${basis}: ${layer.parameterCount()} parameters, output [${y.shape}]`);
  y.dispose();
}
